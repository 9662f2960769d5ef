"""An SVG chart of the summary, written without any library: one panel per figure, one bar per
proxy, the bar's length its ratio to the reference (direct where direct has the figure, else the
best of nginx and HAProxy), a line at 1×. Bars longer than the axis are cut and labelled."""

from xml.sax.saxutils import escape

COLORS = {"nginx": "#3b7dd8", "haproxy": "#8e44ad", "loopgate": "#27ae60"}
BAR_PEERS = ("nginx", "haproxy", "loopgate")
AXIS_MAX = 3.0


def _reference(row):
    direct = row["values"].get("direct")
    if direct:
        return "direct", direct
    best = row["best_peer"]
    if best:
        return "best peer", best
    return None, None


def write_svg(rows, path, title):
    width, left, bar_w = 980, 330, 520
    panel_h, bar_h = 20 + 18 * len(BAR_PEERS), 14
    height = 70 + panel_h * len(rows) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
           f'<text x="10" y="42" fill="#555">Bar: the proxy\'s figure ÷ the reference (direct, else the best of nginx and HAProxy); '
           f'line at 1×; axis cut at {AXIS_MAX:g}×.</text>']
    scale = bar_w / AXIS_MAX
    y = 60
    for row in rows:
        m = row["metric"]
        ref_name, ref = _reference(row)
        better = "higher is better" if m.better == "higher" else "lower is better"
        out.append(f'<text x="10" y="{y + 14}" font-weight="bold">{escape(m.workload)} {escape(m.label)}</text>')
        out.append(f'<text x="10" y="{y + 30}" fill="#555">{escape(m.unit)}, {better}'
                   f'{", vs " + ref_name if ref_name else ", no reference: figures only"}</text>')
        one = left + scale
        out.append(f'<line x1="{one:.1f}" y1="{y + 2}" x2="{one:.1f}" y2="{y + panel_h - 4}" stroke="#999" stroke-dasharray="3,3"/>')
        for i, peer in enumerate(BAR_PEERS):
            by = y + 4 + i * 18
            value = row["values"].get(peer)
            cell = row["cells"].get(peer, "")
            out.append(f'<text x="{left - 6}" y="{by + 11}" text-anchor="end" fill="#333">{peer}</text>')
            if value is None or ref is None:
                out.append(f'<text x="{left + 4}" y="{by + 11}" fill="#a00">{escape(cell)}</text>')
                continue
            ratio = value / ref
            length = min(ratio, AXIS_MAX) * scale
            out.append(f'<rect x="{left}" y="{by}" width="{max(length, 1):.1f}" height="{bar_h}" fill="{COLORS[peer]}"/>')
            label = f"{ratio:.2f}× ({cell})" + (" ▶" if ratio > AXIS_MAX else "")
            out.append(f'<text x="{left + min(length, bar_w) + 6:.1f}" y="{by + 11}" fill="#333">{escape(label)}</text>')
        y += panel_h
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")
