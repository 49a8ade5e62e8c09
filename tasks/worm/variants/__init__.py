"""The 14 WorM variants, one module per task (the five change-detection variants share one).

``all_variants()`` imports them on first use, so importing this package costs nothing.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from membench_tasks.worm.variant import Variant

#: the variant modules, in the paper's task order; each exports VARIANT or VARIANTS.
MODULES = (
    "spatial_free_recall",
    "change_detection",
    "visual_item_recognition",
    "visual_serial",
    "complex_span",
    "spatial_coordination",
    "spatial_integration",
    "spatial_memory_updating",
    "spatial_task_switching",
)


@cache
def all_variants() -> dict[str, Variant]:
    """Every variant by name, in the paper's task order."""
    out: dict[str, Variant] = {}
    for module_name in MODULES:
        module = import_module(f"{__name__}.{module_name}")
        found = getattr(module, "VARIANTS", None) or (module.VARIANT,)
        for variant in found:
            out[variant.name] = variant
    return out
