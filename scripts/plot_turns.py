#!/usr/bin/env python3
"""Draws the turn-taking trade-off of `duplex bench turns` as an SVG (no plotting library).

  python3 scripts/plot_turns.py bench-results/turns.json docs/img/turns.svg

x: the median wait at true ends (ms, from the end of speech to the decision); y: the share of
pauses inside a turn that were cut into. Each swept endpoint setting of duplex is a dot (a line
joins the settings with the same threshold); the best front is drawn; duplex today (its own
sessions) and the reference peer are marked.
"""

import json
import os
import sys

W, H = 720, 470
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 40, 60
X_MAX_MS = 3500.0


def x_of(ms):
    return LEFT + min(ms, X_MAX_MS) / X_MAX_MS * (W - LEFT - RIGHT)


def y_of(rate, y_max):
    return H - BOTTOM - rate / y_max * (H - TOP - BOTTOM)


def front(points):
    """The settings no other beats on both figures, by wait."""
    best, out = float("inf"), []
    for p in sorted(points, key=lambda p: (p["wait_p50_ms"], p["false_cut_off_rate"])):
        if p["false_cut_off_rate"] < best:
            best = p["false_cut_off_rate"]
            out.append(p)
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    report = json.load(open(src))
    sweep = [p for p in report["sweep"] if p["wait_p50_ms"] is not None]
    today = report["duplex"]["metrics"]
    peer = (report.get("peer") or {}).get("metrics")
    marks = [today] + ([peer] if peer else [])
    rates = [p["false_cut_off_rate"] for p in sweep] + [m["false_cut_off_rate"] for m in marks]
    y_max = max(0.1, min(1.0, (int(max(rates) * 10) + 1) / 10))
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">Turn-taking: cut-offs '
           f'against wait ({report["labelled_points"]} labelled points, '
           f'{report["recordings"]} recordings)</text>']
    for i in range(0, int(X_MAX_MS) + 1, 500):
        x = x_of(i)
        svg.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{H - BOTTOM}" stroke="#eee"/>')
        svg.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{i}</text>')
    steps = 10
    for i in range(steps + 1):
        rate = y_max * i / steps
        y = y_of(rate, y_max)
        svg.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#eee"/>')
        svg.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{rate * 100:.0f} %</text>')
    y5 = y_of(0.05, y_max)
    svg.append(f'<line x1="{LEFT}" y1="{y5:.1f}" x2="{W - RIGHT}" y2="{y5:.1f}" stroke="#999" '
               'stroke-dasharray="4 3"/>')
    svg.append(f'<text x="{W - RIGHT - 4}" y="{y5 - 4:.1f}" text-anchor="end" fill="#666">5 %</text>')
    svg.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 18}" text-anchor="middle">median wait '
               'at true ends (ms, end of speech to decision)</text>')
    svg.append(f'<text transform="translate(18 {(TOP + H - BOTTOM) / 2}) rotate(-90)" '
               'text-anchor="middle">pauses cut into (false cut-offs)</text>')
    by_threshold = {}
    for p in sweep:
        by_threshold.setdefault(p["complete_threshold"], []).append(p)
    for threshold, points in sorted(by_threshold.items()):
        path = " ".join(f'{x_of(p["wait_p50_ms"]):.1f},{y_of(p["false_cut_off_rate"], y_max):.1f}'
                        for p in sorted(points, key=lambda p: p["incomplete_wait_ms"]))
        svg.append(f'<polyline points="{path}" fill="none" stroke="#c6d4e6"/>')
    for p in sweep:
        svg.append(f'<circle cx="{x_of(p["wait_p50_ms"]):.1f}" '
                   f'cy="{y_of(p["false_cut_off_rate"], y_max):.1f}" r="2.5" fill="#7f9cc4">'
                   f'<title>threshold {p["complete_threshold"]}, wait {p["incomplete_wait_ms"]} ms'
                   '</title></circle>')
    line = " ".join(f'{x_of(p["wait_p50_ms"]):.1f},{y_of(p["false_cut_off_rate"], y_max):.1f}'
                    for p in front(sweep))
    svg.append(f'<polyline points="{line}" fill="none" stroke="#1f4e8c" stroke-width="2"/>')

    def mark(m, colour, shape):
        if m["wait_p50_ms"] is None:
            return
        x, y = x_of(m["wait_p50_ms"]), y_of(m["false_cut_off_rate"], y_max)
        if shape == "square":
            svg.append(f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="{colour}"/>')
        else:
            svg.append(f'<path d="M{x:.1f},{y - 8:.1f} L{x + 7:.1f},{y + 5:.1f} '
                       f'L{x - 7:.1f},{y + 5:.1f} Z" fill="{colour}"/>')

    mark(today, "#e08a00", "square")
    if peer:
        mark(peer, "#c0392b", "triangle")
    lx, ly = W - RIGHT + 16, TOP + 10
    legend = [("#7f9cc4", "circle", "duplex, swept settings"),
              ("#1f4e8c", "line", "duplex, best front"),
              ("#e08a00", "square", "duplex today")]
    if peer:
        legend.append(("#c0392b", "triangle", "peer: Pipecat smart-turn"))
    for i, (colour, shape, label) in enumerate(legend):
        y = ly + i * 22
        if shape == "circle":
            svg.append(f'<circle cx="{lx + 6}" cy="{y}" r="3" fill="{colour}"/>')
        elif shape == "line":
            svg.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 12}" y2="{y}" stroke="{colour}" '
                       'stroke-width="2"/>')
        elif shape == "square":
            svg.append(f'<rect x="{lx}" y="{y - 6}" width="12" height="12" fill="{colour}"/>')
        else:
            svg.append(f'<path d="M{lx + 6},{y - 7} L{lx + 12},{y + 5} L{lx},{y + 5} Z" '
                       f'fill="{colour}"/>')
        svg.append(f'<text x="{lx + 18}" y="{y + 4}">{label}</text>')
    note_y = ly + len(legend) * 22 + 16
    for j, text in enumerate(["virtual time: engine", "costs add no wait", "",
                              "waits over 3.5 s are", "drawn at the edge"]):
        svg.append(f'<text x="{lx}" y="{note_y + j * 15}" fill="#666">{text}</text>')
    svg.append("</svg>")
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    with open(dst, "w") as f:
        f.write("\n".join(svg) + "\n")
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
