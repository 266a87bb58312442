"""The learnability probe: does this model's self-teacher know better than its student?

SDPO distills the model conditioned on an attempt's feedback (the self-teacher) into the model
without it, so it can only help where the teacher puts more probability on a correct program
than the student does. The probe measures that on problems with reference solutions: it samples
failing attempts, renders their feedback as the solver does, and scores the reference under
the student prompt, the teacher prompt with that feedback, and the teacher prompt with another
problem's feedback (the control). See docs/algorithm.md, "Can this model learn from feedback?".
"""
