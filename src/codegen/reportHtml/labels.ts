/**
 * Places the operating points' labels so that they neither cover each other nor the points: the
 * routed system and the entropy exit share a cloud fraction by construction, so naive labels
 * would always collide. Greedy, in the given order, over a fixed list of positions around each
 * point; the text width is estimated, which is enough to keep labels apart at this font size.
 */

export interface Plot {
  width: number;
  height: number;
}

export interface Pixel {
  x: number;
  y: number;
}

export interface LabelRequest {
  text: string;
  /** The point in pixels, y downwards. */
  at: Pixel;
  /** Half the size of the point's symbol. */
  radius: number;
}

export interface PlacedLabel {
  text: string;
  /** The text anchor in pixels (y downwards, vertically centred). */
  x: number;
  y: number;
  align: "left" | "center" | "right";
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const FONT_SIZE = 11;
/** Mean advance of a sans-serif character at 11 px, a little generous. */
const CHAR_WIDTH = 6.4;
const HALF_HEIGHT = FONT_SIZE / 2 + 1;

/** Candidate positions relative to the point, by preference: right, left, the four diagonals, above, below, then further out. */
const CANDIDATES: { dx: number; dy: number; align: PlacedLabel["align"] }[] = [
  { dx: 1, dy: 0, align: "left" },
  { dx: -1, dy: 0, align: "right" },
  { dx: 0.7, dy: -1, align: "left" },
  { dx: 0.7, dy: 1, align: "left" },
  { dx: -0.7, dy: -1, align: "right" },
  { dx: -0.7, dy: 1, align: "right" },
  { dx: 0, dy: -1.3, align: "center" },
  { dx: 0, dy: 1.3, align: "center" },
  { dx: 1, dy: -2.2, align: "left" },
  { dx: 1, dy: 2.2, align: "left" },
  { dx: -1, dy: -2.2, align: "right" },
  { dx: -1, dy: 2.2, align: "right" },
];

function overlap(a: Box, b: Box): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  return w > 0 && h > 0 ? w * h : 0;
}

function outside(b: Box, plot: Plot): number {
  const over = Math.max(0, -b.x0) + Math.max(0, b.x1 - plot.width) + Math.max(0, -b.y0) + Math.max(0, b.y1 - plot.height);
  return over * (b.y1 - b.y0);
}

export function placeLabels(plot: Plot, requests: LabelRequest[], obstacles: Pixel[]): PlacedLabel[] {
  const placed: Box[] = [];
  const points: Box[] = requests.map((r) => ({ x0: r.at.x - r.radius, y0: r.at.y - r.radius, x1: r.at.x + r.radius, y1: r.at.y + r.radius }));
  const small: Box[] = obstacles.map((p) => ({ x0: p.x - 2.5, y0: p.y - 2.5, x1: p.x + 2.5, y1: p.y + 2.5 }));
  return requests.map((r) => {
    const width = r.text.length * CHAR_WIDTH;
    const gap = r.radius + 3;
    let best: { penalty: number; label: PlacedLabel; box: Box } | null = null;
    for (const c of CANDIDATES) {
      const x = r.at.x + c.dx * gap;
      const y = r.at.y + c.dy * (c.dx === 0 ? gap : HALF_HEIGHT + 1);
      const x0 = c.align === "left" ? x : c.align === "right" ? x - width : x - width / 2;
      const box = { x0, y0: y - HALF_HEIGHT, x1: x0 + width, y1: y + HALF_HEIGHT };
      // Weights: leaving the plot or covering another label is worst, covering a point next, a sweep marker least.
      let penalty = 20 * outside(box, plot);
      for (const b of placed) penalty += 20 * overlap(box, b);
      for (const b of points) penalty += 4 * overlap(box, b);
      for (const b of small) penalty += overlap(box, b);
      if (!best || penalty < best.penalty) best = { penalty, label: { text: r.text, x, y, align: c.align }, box };
      if (penalty === 0) break;
    }
    placed.push(best!.box);
    return best!.label;
  });
}
