// Drawing a frame on the canvas: the image (zoom, pan, brightness, contrast), the
// skeleton, labeled points and machine predictions.
//
// View transform (CSS pixels): an image point (x, y), with the origin at the center of
// the top-left pixel, is drawn at screen (tx + (x + 0.5) * scale, ty + (y + 0.5) * scale)
// relative to the canvas' top-left corner.
import { likelihoodColor, tracePath } from './colors.js';
import { slotKey } from './model.js';

const MIN_SCALE = 0.02;
const MAX_SCALE = 64;

export class CanvasView {
  constructor(canvas, options) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.options = options; // {colors, shapeOf(ind), edges, skeletonColor, individuals, unique}
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.settings = { markerSize: 8, brightness: 100, contrast: 100, predictions: true };
    this.image = null;
    this.model = null;
    this.selected = null; // slot key
    this.pcutoff = 0.6;
    this.width = 0;
    this.height = 0;
    this.resize();
  }

  resize() {
    const rect = this.canvas.parentElement.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(1, Math.floor(rect.width));
    this.height = Math.max(1, Math.floor(rect.height));
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.dpr = dpr;
  }

  fit() {
    if (!this.model) return;
    const w = this.model.width;
    const h = this.model.height;
    this.scale = Math.min(this.width / w, this.height / h) * 0.98;
    this.tx = (this.width - w * this.scale) / 2;
    this.ty = (this.height - h * this.scale) / 2;
  }

  toImage(sx, sy) {
    return [(sx - this.tx) / this.scale - 0.5, (sy - this.ty) / this.scale - 0.5];
  }

  toScreen(x, y) {
    return [this.tx + (x + 0.5) * this.scale, this.ty + (y + 0.5) * this.scale];
  }

  zoomAt(sx, sy, factor) {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    const [x, y] = this.toImage(sx, sy);
    this.scale = scale;
    this.tx = sx - (x + 0.5) * scale;
    this.ty = sy - (y + 0.5) * scale;
  }

  pan(dx, dy) {
    this.tx += dx;
    this.ty += dy;
  }

  radius() {
    return Math.max(1.5, this.settings.markerSize / 2);
  }

  // Slot keys of labeled points (and, if shown, predictions) with their screen position.
  markers() {
    const out = [];
    if (!this.model) return out;
    for (const [key, [x, y]] of this.model.points) {
      const [sx, sy] = this.toScreen(x, y);
      out.push({ key, sx, sy, machine: false });
    }
    if (this.settings.predictions) {
      for (const [key, [x, y]] of this.model.machine) {
        if (this.model.points.has(key) || this.model.hidden.has(key)) continue;
        const [sx, sy] = this.toScreen(x, y);
        out.push({ key, sx, sy, machine: true });
      }
    }
    return out;
  }

  // The marker under the screen point (labeled points before predictions), or null.
  hit(sx, sy) {
    const reach = this.radius() + 4;
    let best = null;
    let bestDistance = Infinity;
    for (const marker of this.markers()) {
      const d = Math.hypot(marker.sx - sx, marker.sy - sy) + (marker.machine ? 0.5 : 0);
      if (d <= reach && d < bestDistance) {
        best = marker;
        bestDistance = d;
      }
    }
    return best;
  }

  draw() {
    const { ctx } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.model) return;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    if (this.image) this.drawImage();
    this.drawSkeleton();
    if (this.settings.predictions) this.drawPredictions();
    this.drawPoints();
  }

  drawImage() {
    const { ctx } = this;
    ctx.save();
    ctx.imageSmoothingEnabled = this.scale < 3;
    const { brightness, contrast } = this.settings;
    if (brightness !== 100 || contrast !== 100) {
      ctx.filter = `brightness(${brightness}%) contrast(${contrast}%)`;
    }
    ctx.drawImage(this.image, this.tx, this.ty, this.model.width * this.scale,
      this.model.height * this.scale);
    ctx.restore();
  }

  point(ind, bp) {
    const key = this.options.unique.includes(bp) ? slotKey('single', bp) : slotKey(ind, bp);
    const xy = this.model.points.get(key);
    return xy ? this.toScreen(xy[0], xy[1]) : null;
  }

  drawSkeleton() {
    const { ctx } = this;
    ctx.save();
    ctx.lineWidth = Math.max(1, this.settings.markerSize / 5);
    ctx.strokeStyle = this.options.skeletonColor;
    ctx.globalAlpha = 0.8;
    for (const ind of this.options.individuals) {
      for (const [a, b] of this.options.edges) {
        const pa = this.point(ind, a);
        const pb = this.point(ind, b);
        if (!pa || !pb) continue;
        ctx.beginPath();
        ctx.moveTo(pa[0], pa[1]);
        ctx.lineTo(pb[0], pb[1]);
        ctx.stroke();
      }
    }
    ctx.restore();
  }

  drawPoints() {
    const { ctx } = this;
    const r = this.radius();
    for (const [key, [x, y]] of this.model.points) {
      const [ind, bp] = key.split('\u0001');
      const [sx, sy] = this.toScreen(x, y);
      tracePath(ctx, this.options.shapeOf(ind), sx, sy, r);
      ctx.fillStyle = this.options.colors.get(bp) || '#fff';
      ctx.fill();
      ctx.lineWidth = key === this.selected ? 3 : 1.5;
      ctx.strokeStyle = key === this.selected ? '#ffffff' : 'rgba(0,0,0,0.85)';
      ctx.stroke();
    }
    if (this.selected && !this.model.points.has(this.selected) && this.cursor) {
      // a faint preview of where a click places the selected bodypart
      const [ind, bp] = this.selected.split('\u0001');
      tracePath(ctx, this.options.shapeOf(ind), this.cursor[0], this.cursor[1], r);
      ctx.globalAlpha = 0.35;
      ctx.fillStyle = this.options.colors.get(bp) || '#fff';
      ctx.fill();
      ctx.globalAlpha = 1;
    }
  }

  drawPredictions() {
    const { ctx } = this;
    const r = this.radius();
    for (const [key, [x, y, p]] of this.model.machine) {
      if (this.model.points.has(key) || this.model.hidden.has(key)) continue;
      const [ind] = key.split('\u0001');
      const [sx, sy] = this.toScreen(x, y);
      ctx.save();
      tracePath(ctx, this.options.shapeOf(ind), sx, sy, r);
      ctx.globalAlpha = 0.55;
      ctx.fillStyle = likelihoodColor(p);
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.setLineDash(p !== null && p < this.pcutoff ? [3, 3] : []);
      ctx.lineWidth = key === this.selected ? 3 : 2;
      ctx.strokeStyle = key === this.selected ? '#ffffff' : likelihoodColor(p);
      ctx.stroke();
      ctx.restore();
    }
  }
}
