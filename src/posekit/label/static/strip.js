// The frame strip: one cell per frame, colored by status, drawn on a canvas for the
// visible range only, so folders of tens of thousands of frames scroll smoothly. Above
// it, when the folder has more frames than fit, a thin overview bar shows the whole
// folder (each pixel column summarizes several frames); click it to jump.

const CELL = 10;
const COLORS = { e: '#4a4f57', p: '#e0a030', c: '#3fb950', m: '#7c7cf0' };
const STATUS_TEXT = { e: 'not labeled', p: 'partly labeled', c: 'complete',
  m: 'predictions to review' };

export class FrameStrip {
  constructor(container, source, onPick) {
    this.container = container;
    this.source = source;
    this.onPick = onPick;
    this.current = 0;
    this.spacer = container.querySelector('.strip-spacer');
    this.canvas = container.querySelector('canvas');
    this.ctx = this.canvas.getContext('2d');
    this.tip = document.getElementById('strip-tip');
    this.overview = document.getElementById('strip-overview');
    this.overview.addEventListener('click', (e) => this.pickOverview(e));
    container.addEventListener('scroll', () => this.draw());
    container.addEventListener('wheel', (e) => {
      if (Math.abs(e.deltaY) > Math.abs(e.deltaX)) {
        e.preventDefault();
        container.scrollLeft += e.deltaY;
      }
    }, { passive: false });
    this.canvas.addEventListener('click', (e) => this.pick(e));
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => { this.tip.hidden = true; });
    window.addEventListener('resize', () => this.draw());
  }

  cellAt(event) {
    const rect = this.container.getBoundingClientRect();
    const x = event.clientX - rect.left + this.container.scrollLeft;
    const index = Math.floor(x / CELL);
    return index >= 0 && index < this.source.total ? index : null;
  }

  pick(event) {
    const index = this.cellAt(event);
    if (index !== null) this.onPick(index);
  }

  pickOverview(event) {
    const rect = this.overview.getBoundingClientRect();
    const fraction = (event.clientX - rect.left) / rect.width;
    const index = Math.floor(fraction * this.source.total);
    if (index >= 0 && index < this.source.total) this.onPick(index);
  }

  hover(event) {
    const index = this.cellAt(event);
    if (index === null) { this.tip.hidden = true; return; }
    const name = this.source.knownName(index) || '';
    const letter = this.source.status[index] || 'e';
    this.tip.textContent = `#${index + 1} ${name} — ${STATUS_TEXT[letter]}`;
    this.tip.hidden = false;
    const rect = this.container.getBoundingClientRect();
    this.tip.style.left = `${Math.min(event.clientX - rect.left, rect.width - 220)}px`;
  }

  setCurrent(index) {
    this.current = index;
    const left = index * CELL;
    const view = this.container.clientWidth;
    if (left < this.container.scrollLeft || left + CELL > this.container.scrollLeft + view) {
      this.container.scrollLeft = Math.max(0, left - view / 2);
    }
    this.draw();
  }

  draw() {
    const total = this.source.total;
    this.spacer.style.width = `${total * CELL}px`;
    const dpr = window.devicePixelRatio || 1;
    const width = this.container.clientWidth;
    const height = this.canvas.parentElement.clientHeight - 2;
    if (this.canvas.width !== Math.round(width * dpr)) {
      this.canvas.width = Math.round(width * dpr);
      this.canvas.style.width = `${width}px`;
    }
    if (this.canvas.height !== Math.round(height * dpr)) {
      this.canvas.height = Math.round(height * dpr);
      this.canvas.style.height = `${height}px`;
    }
    this.canvas.style.left = `${this.container.scrollLeft}px`;
    const { ctx } = this;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const first = Math.floor(this.container.scrollLeft / CELL);
    const last = Math.min(total - 1, first + Math.ceil(width / CELL) + 1);
    const offset = first * CELL - this.container.scrollLeft;
    for (let i = first; i <= last; i += 1) {
      ctx.fillStyle = COLORS[this.source.status[i]] || COLORS.e;
      ctx.fillRect(offset + (i - first) * CELL + 1, 4, CELL - 2, height - 8);
    }
    if (this.current >= first && this.current <= last) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.strokeRect(offset + (this.current - first) * CELL, 1, CELL, height - 2);
    }
    this.drawOverview(width, first, last);
  }

  drawOverview(width, first, last) {
    const total = this.source.total;
    const bar = this.overview;
    bar.hidden = total * CELL <= width;
    if (bar.hidden) return;
    const dpr = window.devicePixelRatio || 1;
    const height = 8;
    if (bar.width !== Math.round(width * dpr)) {
      bar.width = Math.round(width * dpr);
      bar.height = Math.round(height * dpr);
      bar.style.width = `${width}px`;
      bar.style.height = `${height}px`;
    }
    const ctx = bar.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const { status } = this.source;
    const columns = Math.floor(width);
    for (let x = 0; x < columns; x += 1) {
      const a = Math.floor((x * total) / columns);
      const b = Math.max(a + 1, Math.floor(((x + 1) * total) / columns));
      let done = 0;
      let some = 0;
      let predicted = 0;
      for (let i = a; i < b; i += 1) {
        const letter = status[i];
        if (letter === 'c') done += 1;
        else if (letter === 'p') some += 1;
        else if (letter === 'm') predicted += 1;
      }
      let color = COLORS.e;
      if (done === b - a) color = COLORS.c;
      else if (done || some) color = COLORS.p;
      else if (predicted) color = COLORS.m;
      ctx.fillStyle = color;
      ctx.fillRect(x, 0, 1, height);
    }
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 1;
    const left = (first / total) * width;
    const right = ((last + 1) / total) * width;
    ctx.strokeRect(left + 0.5, 0.5, Math.max(2, right - left - 1), height - 1);
  }
}
