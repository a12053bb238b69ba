/**
 * Geometry for a horizontal bar chart drawn as inline SVG on the server: no chart library, no script, nothing fetched,
 * so it renders on a slow link or offline and prints. Each bar sits under its label, which reads well on a phone.
 * The view only places what this returns.
 */
export interface BarInput {
  label: string;
  value: number;
  /** Shown after the bar, e.g. "KES 1,200 · 8 tickets". */
  valueLabel: string;
  /** Read by screen readers for the bar, e.g. the full title and figures. */
  description: string;
}

export interface Bar extends BarInput {
  /** The label cut to fit the chart (the full one is in `description` and the table). */
  shortLabel: string;
  labelY: number;
  barY: number;
  barWidth: number;
  valueX: number;
  valueY: number;
}

export interface BarChart {
  width: number;
  height: number;
  barHeight: number;
  bars: Bar[];
  max: number;
}

const WIDTH = 400;
const MAX_BAR = 250;
const ROW = 44;
const BAR_HEIGHT = 16;
const LABEL_CHARS = 44;

export function barChart(items: readonly BarInput[]): BarChart {
  const max = Math.max(0, ...items.map((i) => i.value));
  const bars = items.map((item, i): Bar => {
    const top = i * ROW;
    // A zero still gets a hairline, so the row does not look missing.
    const barWidth = max > 0 ? Math.max(2, Math.round((item.value / max) * MAX_BAR)) : 2;
    return {
      ...item,
      shortLabel: item.label.length > LABEL_CHARS ? `${item.label.slice(0, LABEL_CHARS - 1)}…` : item.label,
      labelY: top + 16,
      barY: top + 22,
      barWidth,
      valueX: barWidth + 6,
      valueY: top + 35,
    };
  });
  return { width: WIDTH, height: Math.max(ROW, items.length * ROW), barHeight: BAR_HEIGHT, bars, max };
}
