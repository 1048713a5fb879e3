#!/usr/bin/env python3
"""Draws the load-test report's PNG charts from the runner's charts.json.

usage: charts.py CHARTS_JSON OUTPUT_DIR
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FormatStrFormatter  # noqa: E402


def bars(chart, axis):
    labels = chart["labels"]
    series = chart["series"]
    width = 0.8 / len(series)
    for index, one in enumerate(series):
        positions = [x + (index - (len(series) - 1) / 2) * width for x in range(len(labels))]
        drawn = axis.bar(positions, one["values"], width, label=one["name"])
        if len(series) == 1:
            axis.bar_label(drawn, fmt="%.0f", fontsize=8)
    axis.set_xticks(range(len(labels)))
    axis.set_xticklabels(labels, rotation=15, ha="right", fontsize=8)
    if len(series) > 1:
        axis.legend(fontsize=8)


def timeline(chart, axis):
    seconds = chart["seconds"]
    for one in chart["series"]:
        axis.plot(seconds, one["values"], label=one["name"], linewidth=1.2)
    axis.set_xlabel("seconds")
    counts = chart.get("counts")
    if counts:
        second_axis = axis.twinx()
        second_axis.bar(seconds, counts["values"], color="tab:red", alpha=0.35, width=0.9, label=counts["name"])
        second_axis.set_ylabel(counts["name"], color="tab:red")
    top = axis.get_ylim()[1]
    for event in chart.get("events", []):
        axis.axvline(event["second"], color="grey", linestyle="--", linewidth=0.8)
        axis.text(event["second"], top, " " + event["label"], rotation=90, va="top", fontsize=7, color="dimgrey")
    axis.legend(fontsize=8, loc="upper left")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as handle:
        charts = json.load(handle)
    for chart in charts:
        figure, axis = plt.subplots(figsize=(9, 4.5))
        if chart["kind"] == "bars":
            bars(chart, axis)
        else:
            timeline(chart, axis)
        if chart.get("logScale"):
            axis.set_yscale("log")
            # Plain numbers (2, 10, 30), not 2×10⁰, on major and minor ticks alike.
            axis.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            axis.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        axis.set_title(chart["title"])
        axis.set_ylabel(chart["yLabel"])
        axis.grid(axis="y", alpha=0.3)
        figure.tight_layout()
        figure.savefig(f"{sys.argv[2]}/{chart['file']}", dpi=110)
        plt.close(figure)
        print(f"chart: {chart['file']}")


if __name__ == "__main__":
    main()
