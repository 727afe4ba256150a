/** The markup inside the mark group whose class names `cls` (vega's groups of marks hold no nested group). */
export function markGroup(svg: string, cls: string): string | null {
  const m = new RegExp(`<g class="mark-[a-z]+ role-mark ${cls}"[^>]*>`).exec(svg);
  if (!m) return null;
  return svg.slice(m.index + m[0].length, svg.indexOf("</g>", m.index));
}

export const count = (text: string, needle: string) => text.split(needle).length - 1;
