// Colors and marker shapes: one color per bodypart, one shape per individual.

export const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'star', 'hexagon',
  'invtriangle', 'pentagon'];
export const UNIQUE_SHAPE = 'plus';

// Evenly spaced hues (a rainbow from red to magenta), like DeepLabCut's colormaps.
export function bodypartColors(names) {
  const n = Math.max(names.length, 1);
  const colors = new Map();
  names.forEach((name, i) => {
    const hue = Math.round((i / n) * 300);
    colors.set(name, `hsl(${hue}, 95%, 55%)`);
  });
  return colors;
}

// Red (0) through yellow (0.5) to green (1); grey when unknown.
export function likelihoodColor(p) {
  if (p === null || p === undefined || Number.isNaN(p)) return 'hsl(0, 0%, 70%)';
  const clamped = Math.min(1, Math.max(0, p));
  return `hsl(${Math.round(clamped * 120)}, 95%, 50%)`;
}

function polygon(ctx, x, y, r, sides, rotation) {
  ctx.beginPath();
  for (let i = 0; i < sides; i += 1) {
    const a = rotation + (i * 2 * Math.PI) / sides;
    const px = x + r * Math.cos(a);
    const py = y + r * Math.sin(a);
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  }
  ctx.closePath();
}

function star(ctx, x, y, r) {
  ctx.beginPath();
  for (let i = 0; i < 10; i += 1) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    const rr = i % 2 === 0 ? r * 1.25 : r * 0.55;
    const px = x + rr * Math.cos(a);
    const py = y + rr * Math.sin(a);
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  }
  ctx.closePath();
}

function plus(ctx, x, y, r) {
  const t = r * 0.4;
  ctx.beginPath();
  ctx.moveTo(x - t, y - r); ctx.lineTo(x + t, y - r); ctx.lineTo(x + t, y - t);
  ctx.lineTo(x + r, y - t); ctx.lineTo(x + r, y + t); ctx.lineTo(x + t, y + t);
  ctx.lineTo(x + t, y + r); ctx.lineTo(x - t, y + r); ctx.lineTo(x - t, y + t);
  ctx.lineTo(x - r, y + t); ctx.lineTo(x - r, y - t); ctx.lineTo(x - t, y - t);
  ctx.closePath();
}

// Trace a marker's outline as the current path (fill or stroke it afterwards).
export function tracePath(ctx, shape, x, y, r) {
  switch (shape) {
    case 'square': ctx.beginPath(); ctx.rect(x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7); break;
    case 'triangle': polygon(ctx, x, y + r * 0.15, r * 1.2, 3, -Math.PI / 2); break;
    case 'invtriangle': polygon(ctx, x, y - r * 0.15, r * 1.2, 3, Math.PI / 2); break;
    case 'diamond': polygon(ctx, x, y, r * 1.2, 4, 0); break;
    case 'pentagon': polygon(ctx, x, y, r * 1.1, 5, -Math.PI / 2); break;
    case 'hexagon': polygon(ctx, x, y, r * 1.05, 6, 0); break;
    case 'star': star(ctx, x, y, r); break;
    case 'plus': plus(ctx, x, y, r * 1.1); break;
    default: ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI);
  }
}

// A small canvas swatch of one marker, for legends and the bodypart list.
export function swatch(shape, color, size = 16) {
  const canvas = document.createElement('canvas');
  const dpr = window.devicePixelRatio || 1;
  canvas.width = size * dpr;
  canvas.height = size * dpr;
  canvas.className = 'swatch';
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  const ctx = canvas.getContext('2d');
  ctx.scale(dpr, dpr);
  tracePath(ctx, shape, size / 2, size / 2, size * 0.32);
  ctx.fillStyle = color;
  ctx.fill();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = 'rgba(0,0,0,0.8)';
  ctx.stroke();
  return canvas;
}
