"""The CPU to generate code for when --cpu is not given: the one the inputs were compiled for.

clang records `-mcpu` in every function (`"target-cpu"="v3"`), but LLVM's BPF backend has
one subtarget per target machine and ignores those attributes, so a `-mcpu=v3` program
linked for `generic` loses its ALU32 code (and the verifier may reject what clang's own
object passes). Rules:
- every input that names a CPU names the same one: use it, with its `target-features`;
- they differ: use the oldest (v1 < v2 < v3 < v4; `generic` is v1): the output then runs
  wherever every input was meant to run. Enabled features are those all inputs enable.
  A warning names the inputs and their CPUs; `--cpu` silences it;
- no input names one (hand-written IR): `generic`.
"""

from __future__ import annotations

# Generation of each BPF CPU; a name not listed (`probe`, a future one) ranks as the newest.
_RANK = {"generic": 1, "v1": 1, "v2": 2, "v3": 3, "v4": 4}


def rank(cpu: str) -> int:
    return _RANK.get(cpu, 99)


def _features(text: str) -> list[str]:
    return [f for f in text.split(",") if f]


def choose(found: dict[str, tuple[str, str]]) -> tuple[tuple[str, str] | None, str | None]:
    """((cpu, features) or None, a warning or None) for `found`: input name -> (cpu, features)."""
    if not found:
        return None, None
    distinct = set(found.values())
    if len(distinct) == 1:
        return next(iter(distinct)), None
    cpus = {cpu for cpu, _ in distinct}
    cpu = min(cpus, key=lambda c: (rank(c), c))
    lists = [_features(f) for _, f in found.values()]
    common = [f for f in lists[0] if all(f in other for other in lists[1:])]
    by_target: dict[tuple[str, str], list[str]] = {}
    for name, target in found.items():
        by_target.setdefault(target, []).append(name)
    parts = []
    for (c, f), names in sorted(by_target.items()):
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        parts.append(f"{shown}: {c}{' ' + f if f else ''}")
    what = "CPUs" if len(cpus) > 1 else "CPU features"
    warning = (f"inputs were compiled for different {what} ({'; '.join(parts)}); generating code for "
               f"{cpu}{' ' + ','.join(common) if common else ''}, the oldest, so the output runs wherever "
               "each input was meant to (pass --cpu to choose)")
    return (cpu, ",".join(common)), warning
