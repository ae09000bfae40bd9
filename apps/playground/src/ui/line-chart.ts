export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  /** `left` axis auto-scales from 0; `right` is fixed to [0, 1] (fractions). */
  readonly axis: 'left' | 'right';
  readonly points: readonly (readonly [x: number, y: number])[];
}

const PADDING = { left: 44, right: 40, top: 12, bottom: 26 };

/**
 * A dependency-free canvas chart for the live loss and accuracy curves: two
 * y axes, redrawn whole on each update (a few thousand points at most).
 */
export class LineChart {
  private readonly context: CanvasRenderingContext2D;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const context = canvas.getContext('2d');
    if (!context) throw new Error('2D canvas unavailable');
    this.context = context;
  }

  draw(series: readonly ChartSeries[], xMax: number): void {
    const { canvas, context: ctx } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);

    const plotW = width - PADDING.left - PADDING.right;
    const plotH = height - PADDING.top - PADDING.bottom;
    const leftMax = niceCeiling(
      Math.max(1, ...series.filter((s) => s.axis === 'left').flatMap((s) => s.points.map(([, y]) => y))),
    );
    const x = (v: number) => PADDING.left + (v / Math.max(1, xMax)) * plotW;
    const y = (v: number, axis: 'left' | 'right') =>
      PADDING.top + plotH - (v / (axis === 'left' ? leftMax : 1)) * plotH;

    ctx.font = '11px system-ui, sans-serif';
    ctx.strokeStyle = '#d0d4da';
    ctx.fillStyle = '#5b6472';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const gy = PADDING.top + (plotH * i) / 4;
      ctx.beginPath();
      ctx.moveTo(PADDING.left, gy);
      ctx.lineTo(PADDING.left + plotW, gy);
      ctx.stroke();
      ctx.textAlign = 'right';
      ctx.fillText(formatTick(leftMax * (1 - i / 4)), PADDING.left - 6, gy + 4);
      ctx.textAlign = 'left';
      ctx.fillText(`${Math.round(100 * (1 - i / 4))}%`, PADDING.left + plotW + 6, gy + 4);
    }
    ctx.textAlign = 'center';
    ctx.fillText(`step (of ${xMax})`, PADDING.left + plotW / 2, height - 6);

    for (const s of series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.75;
      ctx.beginPath();
      s.points.forEach(([px, py], i) => {
        if (i === 0) ctx.moveTo(x(px), y(py, s.axis));
        else ctx.lineTo(x(px), y(py, s.axis));
      });
      ctx.stroke();
    }
  }
}

function niceCeiling(v: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((c) => c >= v) ?? v;
}

const formatTick = (v: number): string => (v >= 10 ? v.toFixed(0) : v.toFixed(2));
