"""The engine's errors, under the service's one hierarchy (`service.errors.ServiceError`).

They stop a worker at start-up with a message naming the setting to change; none of them is
a request's fault, so each maps to HTTP 500 if it ever reaches the API.
"""

from __future__ import annotations

from service.errors import ServiceError


class EngineConfigError(ServiceError):
    """The engine cannot start as configured (a missing device, sampler or memory)."""

    code = "engine_config"


class DeviceUnavailable(EngineConfigError):
    """The settings ask for a device this host does not have (e.g. CUDA without a driver)."""

    code = "device_unavailable"


class SamplerUnavailable(EngineConfigError):
    """The settings ask for a sampler that cannot run here (e.g. vLLM that does not import)."""

    code = "sampler_unavailable"


class MemoryPlanError(EngineConfigError):
    """The model, with these settings, does not fit on the device."""

    code = "memory_plan"


class ModelNotFoundError(EngineConfigError):
    """The model setting names nothing that can be loaded here (the message says what to do)."""

    code = "model_not_found"
