/**
 * A vega-lite chart rendered to an SVG string in Node, synchronously: the report is a pure
 * emitter returning a string, and the charts hold only inline data, so nothing needs to wait.
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** vega re-exports vega-scenegraph's headless SVG renderer, but its typings do not declare it. */
interface SvgStringRenderer {
  initialize(el: null, width: number, height: number, origin: readonly number[], scaleFactor: number): SvgStringRenderer;
  background(color: string | null): SvgStringRenderer;
  render(scene: unknown): SvgStringRenderer;
  svg(): string;
}
type SvgStringRendererClass = new (loader: vega.Loader) => SvgStringRenderer;

/** The fields of a View this module reads beyond its typed surface (layout after autosize). */
interface ViewLayout {
  _viewWidth: number;
  _viewHeight: number;
  _pending: unknown;
}

/** Collects what vega-lite and vega log instead of letting it reach the console: a chart that warns is a bug here. */
class Collect {
  readonly messages: string[] = [];
  private lvl = vega.Warn;
  level(): number;
  level(_: number): this;
  level(_?: number): number | this {
    if (_ === undefined) return this.lvl;
    this.lvl = _;
    return this;
  }
  error(...args: readonly unknown[]): this {
    this.messages.push("error: " + args.map(String).join(" "));
    return this;
  }
  warn(...args: readonly unknown[]): this {
    this.messages.push("warning: " + args.map(String).join(" "));
    return this;
  }
  info(): this {
    return this;
  }
  debug(): this {
    return this;
  }
}

/** The vega spec a vega-lite spec compiles to (exposed for tests). */
export function compileChart(spec: TopLevelSpec): vega.Spec {
  const log = new Collect();
  const compiled = compile(spec, { logger: log }).spec;
  if (log.messages.length) throw new Error(`vega-lite: ${log.messages.join("; ")}`);
  return compiled;
}

/**
 * Renders a vega-lite spec to SVG markup. `View.toSVG()` does the same asynchronously; here the
 * dataflow runs synchronously (`run()` evaluates at once when no data is loading) and the headless
 * renderer draws the resulting scene at the size autosize computed.
 */
export function renderChartSvg(spec: TopLevelSpec): string {
  const log = new Collect();
  const view = new vega.View(vega.parse(compileChart(spec)), { renderer: "none", logger: log as unknown as vega.LoggerInterface });
  try {
    const layout = view as unknown as ViewLayout;
    view.run();
    if (layout._pending) throw new Error("vega: the chart is waiting for data; only inline values can be drawn synchronously");
    if (log.messages.length) throw new Error(`vega: ${log.messages.join("; ")}`);
    // View.padding() returns the normalised object; its typing also admits a plain number.
    const p = view.padding();
    const padding = typeof p === "number" ? { top: p, bottom: p, left: p, right: p } : { top: p.top ?? 0, bottom: p.bottom ?? 0, left: p.left ?? 0, right: p.right ?? 0 };
    const origin = view.origin();
    const width = Math.max(0, layout._viewWidth + padding.left + padding.right);
    const height = Math.max(0, layout._viewHeight + padding.top + padding.bottom);
    // Clip and gradient ids come from module-level counters: start them afresh for identical output.
    vega.resetSVGDefIds();
    const Renderer = (vega as unknown as { SVGStringRenderer: SvgStringRendererClass }).SVGStringRenderer;
    return new Renderer(view.loader())
      .initialize(null, width, height, [padding.left + origin[0]!, padding.top + origin[1]!], 1)
      .background(view.background() as string | null)
      .render((view.scenegraph() as unknown as { root: unknown }).root)
      .svg();
  } finally {
    view.finalize();
  }
}
