"""The PNG chart: each implementation's median time as a ratio to the floor."""

from __future__ import annotations



__all__ = ["plot"]


def plot(out: dict, path: str) -> None:
    """A grouped bar chart (log scale), one group per workload, of the ratios to the floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w for w in out["workloads"] if any(r.get("ratio_to_floor") for r in w["results"])]
    keys: list = []
    for w in workloads:
        for r in w["results"]:
            if r.get("ratio_to_floor") and r["key"] not in keys:
                keys.append(r["key"])
    width = 0.8 / max(len(keys), 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.6 * len(workloads) + 2), 5.5))
    cmap = plt.get_cmap("tab20")
    for i, key in enumerate(keys):
        xs, ys = [], []
        for j, w in enumerate(workloads):
            r = next((r for r in w["results"] if r["key"] == key and r.get("ratio_to_floor")), None)
            if r is not None:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(r["ratio_to_floor"])
        ax.bar(xs, ys, width=width, label=key, color=cmap(i % 20))
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels([w["workload"] for w in workloads])
    ax.set_ylabel("median time / hand-written numpy floor (log scale; lower is better)")
    m = out["machine"]
    ax.set_title(f"anyad benchmarks: {m['cpu']}, {m['threads']} threads", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


