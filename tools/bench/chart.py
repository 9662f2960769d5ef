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


def _never_text(cell):
    return cell if cell.startswith("never") else "no figure: " + cell


def write_svg(rows, path, title):
    width, left, bar_w = 980, 90, 600
    bar_h, line_h = 14, 18
    panel_h = 26 + line_h * len(BAR_PEERS) + 8
    height = 76 + panel_h * len(rows) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
           f'<text x="10" y="40" fill="#555">Bar: the proxy\'s figure ÷ the reference (direct, else the best of nginx and HAProxy), '
           f'dashed line at 1×, axis cut at {AXIS_MAX:g}×.</text>',
           '<text x="10" y="54" fill="#555">Where there is nothing to divide by (a reference of 0, or never reached), '
           'the figures on their own scale.</text>']
    y = 66
    for row in rows:
        m = row["metric"]
        ref_name, ref = _reference(row)
        better = "higher is better" if m.better == "higher" else "lower is better"
        known = [row["values"].get(p) for p in BAR_PEERS if row["values"].get(p) is not None]
        if ref:
            scale, how = bar_w / AXIS_MAX, f"÷ {ref_name}"
        else:
            top = max(known) if known and max(known) > 0 else 1.0
            scale, how = bar_w / top, "figures (no reference to divide by)"
        out.append(f'<text x="10" y="{y + 14}"><tspan font-weight="bold">{escape(m.workload)} {escape(m.label)}</tspan>'
                   f'<tspan fill="#555"> — {escape(m.unit)}, {better}; {escape(how)}</tspan></text>')
        if ref:
            one = left + scale
            out.append(f'<line x1="{one:.1f}" y1="{y + 20}" x2="{one:.1f}" y2="{y + panel_h - 6}" stroke="#999" stroke-dasharray="3,3"/>')
        for i, peer in enumerate(BAR_PEERS):
            by = y + 22 + i * line_h
            value = row["values"].get(peer)
            cell = row["cells"].get(peer, "")
            out.append(f'<text x="{left - 6}" y="{by + 11}" text-anchor="end" fill="#333">{peer}</text>')
            if value is None:
                out.append(f'<rect x="{left}" y="{by}" width="{bar_w}" height="{bar_h}" fill="#f3d6d6"/>')
                out.append(f'<text x="{left + 6}" y="{by + 11}" fill="#a00">{escape(_never_text(cell))}</text>')
                continue
            shown = value / ref if ref else value
            length = min(shown * scale, bar_w)
            out.append(f'<rect x="{left}" y="{by}" width="{max(length, 1):.1f}" height="{bar_h}" fill="{COLORS[peer]}"/>')
            label = (f"{shown:.2f}× ({cell})" if ref else cell) + (" ▶" if ref and shown > AXIS_MAX else "")
            out.append(f'<text x="{left + length + 6:.1f}" y="{by + 11}" fill="#333">{escape(label)}</text>')
        y += panel_h
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")
