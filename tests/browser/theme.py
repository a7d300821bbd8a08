"""Theme switching, widget screenshots and a WCAG contrast check for the browser tests.

The contrast check walks every visible text node inside a flowai widget, composites
the element's colour (and opacity) over the background it actually sits on, and
reports each one under 4.5:1 (WCAG AA for normal text). Disabled controls are
exempt, as in WCAG.
"""

from __future__ import annotations

from pathlib import Path

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
MIN_CONTRAST = 4.5

_CONTRAST_JS = """
([selector, minimum]) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const parse = (css) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = "rgba(0,0,0,0)";
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let color = [255, 255, 255, 1];
    for (const layer of layers.reverse()) color = over(layer, color);
    return color;
  };
  const opacity = (el) => {
    let value = 1;
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      value *= Number(getComputedStyle(node).opacity);
    }
    return value;
  };
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const failures = [];
  let checked = 0;
  for (const widget of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(widget, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const el = t.parentElement;
      if (!t.textContent.trim() || seen.has(el)) continue;
      seen.add(el);
      if (!el.getClientRects().length || el.closest(":disabled, option")) continue;
      const style = getComputedStyle(el);
      if (style.visibility === "hidden") continue;
      const inSvg = el instanceof SVGElement;
      const fg = parse(inSvg ? style.fill : style.color);
      const bg = background(inSvg ? el.closest("svg").parentElement : el);
      fg[3] *= opacity(el);
      const ink = over(fg, bg);
      const [hi, lo] = [lum(ink), lum(bg)].sort((x, y) => y - x);
      const ratio = (hi + 0.05) / (lo + 0.05);
      checked += 1;
      if (ratio < minimum) {
        failures.push({ text: t.textContent.trim().slice(0, 40), ratio: Number(ratio.toFixed(2)),
          cls: el.className.baseVal ?? el.className, fg: ink.slice(0, 3), bg: bg.slice(0, 3) });
      }
    }
  }
  return { checked, failures };
}
"""


def use_theme(page, theme: str) -> None:
    """Switch JupyterLab to ``theme`` ("light" or "dark") and wait until it applied."""
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands")
    page.evaluate("(name) => window.jupyterapp.commands.execute('apputils:change-theme', "
                  "{theme: name})", THEMES[theme])
    light = "true" if theme == "light" else "false"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    page.wait_for_timeout(300)  # the theme's CSS variables settle after the attribute flips


def contrast_report(page, selector: str = ".flowai") -> dict:
    """``{"checked": n, "failures": [...]}`` for the text inside ``selector`` elements."""
    return page.evaluate(_CONTRAST_JS, [selector, MIN_CONTRAST])


def assert_readable(page, where: str, selector: str = ".flowai") -> int:
    """Fail with the offending texts if any text in a widget is under 4.5:1; returns
    how many texts were checked."""
    report = contrast_report(page, selector)
    assert report["failures"] == [], f"{where}: text under {MIN_CONTRAST}:1 contrast: " + \
        "; ".join(f"{f['text']!r} ({f['cls']}) {f['ratio']}:1 fg={f['fg']} bg={f['bg']}"
                  for f in report["failures"][:12])
    return report["checked"]


def screenshot_widgets(page, folder: Path, prefix: str, selector: str = ".flowai") -> list[Path]:
    """One PNG per widget (in the order they appear) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    widgets = page.locator(selector)
    for i in range(widgets.count()):
        widget = widgets.nth(i)
        if not widget.is_visible():
            continue
        widget.scroll_into_view_if_needed()
        path = folder / f"{prefix}-{i:02d}.png"
        widget.screenshot(path=str(path))
        shots.append(path)
    return shots
