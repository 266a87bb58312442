// The form that submits a problem: paste its JSON or load a .json file, pick a strategy and a
// budget, POST /solve. A refusal shows the server's message next to the field it names.

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";

// Which input answers for an error's field path (the longest matching prefix wins).
const FIELD_INPUTS = [
  ["problem", "problem"],
  ["body", "problem"],
  ["strategy", "strategy"],
  ["budget.max_attempts", "max_attempts"],
  ["budget.attempts_per_round", "attempts_per_round"],
  ["sampling.max_new_tokens", "max_new_tokens"],
  ["seed", "seed"],
];

function numberField(name, label, { value = "", placeholder = "", required = false } = {}) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: `f-${name}` }, label),
    h("input", {
      id: `f-${name}`,
      name,
      type: "number",
      min: 1,
      step: 1,
      value,
      placeholder,
      required,
    }),
  );
}

function inputFor(form, field) {
  if (!field) return null;
  let best = null;
  for (const [prefix, name] of FIELD_INPUTS) {
    const matches = field === prefix || field.startsWith(`${prefix}.`);
    if (matches && (!best || prefix.length > best[0].length)) best = [prefix, name];
  }
  return best ? form.elements.namedItem(best[1]) : null;
}

function showError(form, box, error) {
  const input = inputFor(form, error.field);
  const where = error.field ? h("span", { class: "field-name" }, error.field) : null;
  const status = error.status ? `${error.status} ${error.code}` : error.code;
  box.replaceChildren(
    h("div", {}, h("strong", {}, `Refused (${status})`), where ? [" — field ", where] : null),
    h("div", {}, error.message),
  );
  box.hidden = false;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.after(h("div", { class: "field-error" }, error.message));
    input.focus();
  }
}

function clearErrors(form, box) {
  box.hidden = true;
  box.replaceChildren();
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

// Empty inputs leave the server's defaults in place rather than sending zeros.
function readBody(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  let problem;
  try {
    problem = JSON.parse(value("problem"));
  } catch (error) {
    const why = `the problem is not valid JSON: ${error.message}`;
    throw new ApiError(0, "invalid_json", why, "problem");
  }
  const body = { problem, strategy: value("strategy"), budget: {}, sampling: {} };
  for (const name of ["max_attempts", "attempts_per_round"]) {
    if (value(name)) body.budget[name] = Number(value(name));
  }
  if (value("max_new_tokens")) body.sampling.max_new_tokens = Number(value("max_new_tokens"));
  // The same seed repeats a job's samples, whatever else the worker runs beside it.
  if (value("seed")) body.seed = Number(value("seed"));
  // The list shows this title; the API keeps metadata as given.
  if (problem && typeof problem.title === "string") body.metadata = { title: problem.title };
  return body;
}

/** The submit form; `onCreated(id)` runs with the new job's id. */
export function submitForm(onCreated) {
  const errorBox = h("div", { class: "form-error", role: "alert", hidden: true });
  const fileInput = h("input", { id: "f-file", type: "file", accept: ".json,application/json" });
  const problem = h("textarea", {
    id: "f-problem",
    name: "problem",
    class: "code",
    required: true,
    spellcheck: "false",
    placeholder: '{"title": "...", "statement": "...", "tests": {"kind": "functional", ...}}',
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Solve");
  const form = h(
    "form",
    { class: "submit-form", id: "submit-form" },
    h(
      "div",
      { class: "field" },
      h("label", { for: "f-problem" }, "Problem (JSON: statement and tests)"),
      problem,
      h(
        "div",
        { class: "field" },
        h("label", { for: "f-file" }, "…or load a .json file"),
        fileInput,
      ),
    ),
    h(
      "div",
      { class: "fields" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "f-strategy" }, "Strategy"),
        h(
          "select",
          { id: "f-strategy", name: "strategy" },
          h("option", { value: "sdpo", selected: true }, "sdpo (learns from feedback)"),
          h("option", { value: "best_of_k" }, "best_of_k (no learning)"),
          h("option", { value: "multi_turn" }, "multi_turn (feedback in the prompt)"),
        ),
      ),
      numberField("max_attempts", "Max attempts", { value: 64, required: true }),
      numberField("attempts_per_round", "Attempts per round", { value: 8, required: true }),
      numberField("max_new_tokens", "Max new tokens (optional)", { placeholder: "server default" }),
      numberField("seed", "Seed (optional)", { placeholder: "0" }),
      submit,
    ),
    errorBox,
  );

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files?.[0];
    if (file) problem.value = await file.text();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, errorBox);
    submit.disabled = true;
    try {
      const created = await api("solve", { method: "POST", body: readBody(form) });
      onCreated(created.id);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(form, errorBox, error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
