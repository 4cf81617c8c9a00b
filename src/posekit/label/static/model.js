// The editable state of one frame, with undo and redo.
//
// A slot is one (individual, bodypart); unique bodyparts belong to the individual
// "single". A slot holds a point [x, y] (image pixels, origin at the top-left pixel's
// center), is marked not visible, or is not labeled yet.

export const SEP = '\u0001';
export const slotKey = (ind, bp) => `${ind}${SEP}${bp}`;
export const splitKey = (key) => key.split(SEP);

const MAX_UNDO = 200;

function round2(v) {
  return Math.round(v * 100) / 100;
}

export class FrameModel {
  constructor(frame) {
    this.name = frame.name;
    this.index = frame.index;
    this.width = frame.width;
    this.height = frame.height;
    this.undoStack = [];
    this.redoStack = [];
    this.version = 0; // bumped on every local change
    this.savedVersion = 0; // the version the server has
    this.load(frame);
  }

  // Take the server's state (after loading, saving or a conflict).
  load(frame) {
    this.rev = frame.rev;
    this.status = frame.status;
    this.points = new Map();
    this.hidden = new Set();
    for (const [ind, parts] of Object.entries(frame.points || {})) {
      for (const [bp, xy] of Object.entries(parts)) this.points.set(slotKey(ind, bp), xy);
    }
    for (const [ind, parts] of Object.entries(frame.not_visible || {})) {
      for (const bp of parts) this.hidden.add(slotKey(ind, bp));
    }
    this.machine = new Map();
    this.machineFile = frame.machine ? frame.machine.file : null;
    if (frame.machine) {
      for (const [ind, parts] of Object.entries(frame.machine.points)) {
        for (const [bp, xyp] of Object.entries(parts)) this.machine.set(slotKey(ind, bp), xyp);
      }
    }
  }

  get dirty() {
    return this.version !== this.savedVersion;
  }

  snapshot() {
    return { points: new Map(this.points), hidden: new Set(this.hidden) };
  }

  restore(state) {
    this.points = new Map(state.points);
    this.hidden = new Set(state.hidden);
  }

  // Record the current state for undo, then let `change` modify the frame.
  edit(change) {
    const before = this.snapshot();
    change(this);
    if (this.sameAs(before)) return false;
    this.undoStack.push(before);
    if (this.undoStack.length > MAX_UNDO) this.undoStack.shift();
    this.redoStack = [];
    this.version += 1;
    return true;
  }

  // Begin a drag: remember the state once; move() then changes it without new undo steps.
  beginDrag() {
    this.dragStart = this.snapshot();
  }

  endDrag() {
    const before = this.dragStart;
    this.dragStart = null;
    if (!before || this.sameAs(before)) return false;
    this.undoStack.push(before);
    this.redoStack = [];
    this.version += 1;
    return true;
  }

  sameAs(state) {
    if (state.points.size !== this.points.size || state.hidden.size !== this.hidden.size) {
      return false;
    }
    for (const [key, xy] of this.points) {
      const other = state.points.get(key);
      if (!other || other[0] !== xy[0] || other[1] !== xy[1]) return false;
    }
    for (const key of this.hidden) if (!state.hidden.has(key)) return false;
    return true;
  }

  undo() {
    if (!this.undoStack.length) return false;
    this.redoStack.push(this.snapshot());
    this.restore(this.undoStack.pop());
    this.version += 1;
    return true;
  }

  redo() {
    if (!this.redoStack.length) return false;
    this.undoStack.push(this.snapshot());
    this.restore(this.redoStack.pop());
    this.version += 1;
    return true;
  }

  clamp(x, y) {
    return [Math.min(this.width - 0.5, Math.max(-0.5, round2(x))),
      Math.min(this.height - 0.5, Math.max(-0.5, round2(y)))];
  }

  // Mutators, used inside edit() (or between beginDrag and endDrag).
  place(key, x, y) {
    this.points.set(key, this.clamp(x, y));
    this.hidden.delete(key);
  }

  hide(key) {
    this.points.delete(key);
    this.hidden.add(key);
  }

  clear(key) {
    this.points.delete(key);
    this.hidden.delete(key);
  }

  state(key) {
    if (this.points.has(key)) return 'placed';
    if (this.hidden.has(key)) return 'hidden';
    return 'empty';
  }

  // The PUT body for the current state.
  body() {
    const points = {};
    const notVisible = {};
    for (const [key, xy] of this.points) {
      const [ind, bp] = splitKey(key);
      (points[ind] = points[ind] || {})[bp] = xy;
    }
    for (const key of this.hidden) {
      const [ind, bp] = splitKey(key);
      (notVisible[ind] = notVisible[ind] || []).push(bp);
    }
    return { base_rev: this.rev, points, not_visible: notVisible };
  }

  // Take the server's state as a new undoable step that needs no saving.
  adopt(frame) {
    const before = this.snapshot();
    this.load(frame);
    if (!this.sameAs(before)) {
      this.undoStack.push(before);
      this.redoStack = [];
    }
    this.version += 1;
    this.savedVersion = this.version;
  }
}
