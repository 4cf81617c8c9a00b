// Mouse and keyboard: click places the selected bodypart (keep the button down to
// adjust it), drag moves a point, right-click marks not visible, the wheel zooms, and
// space+drag or the middle button pans. Keyboard shortcuts are listed in SHORTCUTS
// (the help overlay shows them).

export const SHORTCUTS = [
  ['→  D  PageDown', 'next frame'],
  ['←  A  PageUp', 'previous frame'],
  ['Shift+→  Shift+←', 'next / previous frame that is not complete'],
  ['Home  End', 'first / last frame'],
  ['↓  S  Tab', 'next bodypart'],
  ['↑  W  Shift+Tab', 'previous bodypart'],
  ['1 … 9', 'choose bodypart by number'],
  ['I  Shift+I', 'next / previous individual (multi-animal)'],
  ['click', 'place the selected bodypart (hold and move to adjust)'],
  ['drag a point', 'move it'],
  ['right-click, N', 'mark the bodypart not visible'],
  ['Shift+N', 'mark every bodypart not labeled yet not visible'],
  ['Delete  Backspace', 'remove the selected bodypart\'s label'],
  ['Ctrl+Z', 'undo'],
  ['Ctrl+Shift+Z  Ctrl+Y', 'redo'],
  ['wheel', 'zoom at the mouse'],
  ['Space+drag, middle button', 'pan'],
  ['F  0', 'fit the frame to the window'],
  ['+  -', 'zoom in / out'],
  ['P', 'show / hide predictions'],
  ['Enter', 'accept the predictions of this frame as labels'],
  ['click a prediction', 'accept that point (drag it to correct it)'],
  ['H  ?', 'show / hide this help'],
];

const CLICK_SLOP = 3;

export function attachInput(canvas, c, { toggleHelp, togglePredictions }) {
  const view = c.view;
  let space = false;
  let gesture = null; // {kind: 'pan'|'drag', ...}

  const local = (event) => {
    const rect = canvas.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  };

  canvas.addEventListener('mousedown', (event) => {
    if (!c.model) return;
    const [sx, sy] = local(event);
    if (event.button === 1 || (event.button === 0 && space)) {
      event.preventDefault();
      gesture = { kind: 'pan', sx, sy };
      canvas.classList.add('panning');
      return;
    }
    if (event.button !== 0) return;
    const hit = view.hit(sx, sy);
    const [x, y] = view.toImage(sx, sy);
    if (hit && !hit.machine) {
      const previous = view.selected;
      c.beginDrag(hit.key);
      gesture = { kind: 'drag', key: hit.key, sx, sy, moved: false, placed: false, previous };
    } else if (hit && hit.machine) {
      const [px, py] = c.model.machine.get(hit.key);
      c.beginDrag(hit.key);
      c.dragTo(hit.key, px, py);
      gesture = { kind: 'drag', key: hit.key, sx, sy, moved: false, placed: true,
        offset: [px - x, py - y] };
    } else if (view.selected) {
      const key = view.selected;
      c.beginDrag(key);
      c.dragTo(key, x, y);
      gesture = { kind: 'drag', key, sx, sy, moved: false, placed: true };
    }
  });

  window.addEventListener('mousemove', (event) => {
    const [sx, sy] = local(event);
    if (!gesture) {
      view.cursor = event.target === canvas ? [sx, sy] : null;
      canvas.classList.toggle('over-point', Boolean(view.hit(sx, sy)));
      if (c.model) view.draw();
      return;
    }
    if (gesture.kind === 'pan') {
      view.pan(sx - gesture.sx, sy - gesture.sy);
      gesture.sx = sx;
      gesture.sy = sy;
      view.draw();
      return;
    }
    if (Math.hypot(sx - gesture.sx, sy - gesture.sy) > CLICK_SLOP) gesture.moved = true;
    if (gesture.moved) {
      const [x, y] = view.toImage(sx, sy);
      const [ox, oy] = gesture.offset || [0, 0];
      c.dragTo(gesture.key, x + ox, y + oy);
    }
  });

  window.addEventListener('mouseup', () => {
    if (!gesture) return;
    const done = gesture;
    gesture = null;
    canvas.classList.remove('panning');
    if (done.kind === 'drag') {
      c.endDrag();
      if (done.placed) c.advance();
      // moving a point is a correction: the bodypart to label next stays selected
      else if (done.moved && done.previous) c.select(done.previous);
      c.redraw();
    }
  });

  canvas.addEventListener('contextmenu', (event) => {
    event.preventDefault();
    if (!c.model) return;
    const hit = view.hit(...local(event));
    c.hide(hit ? hit.key : view.selected);
  });

  canvas.addEventListener('wheel', (event) => {
    event.preventDefault();
    const [sx, sy] = local(event);
    const delta = event.deltaMode === 1 ? event.deltaY * 20 : event.deltaY;
    view.zoomAt(sx, sy, Math.exp(-delta * 0.0015));
    view.draw();
  }, { passive: false });

  canvas.addEventListener('mouseleave', () => { view.cursor = null; view.draw(); });

  window.addEventListener('keyup', (event) => {
    if (event.key === ' ') {
      space = false;
      canvas.classList.remove('space');
    }
  });

  window.addEventListener('keydown', (event) => {
    const target = event.target;
    if (target && ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName)
        && target.type !== 'range' && target.type !== 'checkbox') {
      if (event.key === 'Escape') target.blur();
      return;
    }
    if (handleKey(event, c, { toggleHelp, togglePredictions, setSpace })) {
      event.preventDefault();
    }
  });

  function setSpace() {
    space = true;
    canvas.classList.add('space');
  }
}

function handleKey(event, c, actions) {
  const key = event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  if (ctrl) {
    const lower = key.toLowerCase();
    if (lower === 'z' && !event.shiftKey) { c.undo(); return true; }
    if ((lower === 'z' && event.shiftKey) || lower === 'y') { c.redo(); return true; }
    return false;
  }
  if (event.altKey) return false;
  switch (key) {
    case ' ': actions.setSpace(); return true;
    case 'ArrowRight': case 'PageDown': case 'd': case 'D':
      if (event.shiftKey && key === 'ArrowRight') c.nextOpen(1); else c.next(1);
      return true;
    case 'ArrowLeft': case 'PageUp': case 'a': case 'A':
      if (event.shiftKey && key === 'ArrowLeft') c.nextOpen(-1); else c.next(-1);
      return true;
    case 'Home': c.goTo(0); return true;
    case 'End': c.goTo(c.source.total - 1); return true;
    case 'ArrowDown': case 's': case 'S': c.nextSlot(1); return true;
    case 'ArrowUp': case 'w': case 'W': c.nextSlot(-1); return true;
    case 'Tab': c.nextSlot(event.shiftKey ? -1 : 1); return true;
    case 'i': c.nextIndividual(1); return true;
    case 'I': c.nextIndividual(-1); return true;
    case 'n': c.hide(); return true;
    case 'N': c.hideRest(); return true;
    case 'Delete': case 'Backspace': c.clear(); return true;
    case 'f': case 'F': case '0': c.view.fit(); c.view.draw(); return true;
    case '+': case '=': zoomCenter(c, 1.25); return true;
    case '-': case '_': zoomCenter(c, 0.8); return true;
    case 'p': case 'P': actions.togglePredictions(); return true;
    case 'Enter': c.acceptPredictions(); return true;
    case 'h': case 'H': case '?': actions.toggleHelp(); return true;
    case 'Escape': actions.toggleHelp(false); return true;
    default:
      if (/^[1-9]$/.test(key)) { c.selectNumber(Number(key)); return true; }
      return false;
  }
}

function zoomCenter(c, factor) {
  c.view.zoomAt(c.view.width / 2, c.view.height / 2, factor);
  c.view.draw();
}
