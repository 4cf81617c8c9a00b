// The frames of one folder: names (fetched page by page), status letters, and a small
// cache of frame data and decoded images so the next frames show without a wait.
import { api, folderUrl, frameUrl, imageUrl } from './api.js';

const PAGE = 500;
const CACHE_SIZE = 24;

export class FrameSource {
  constructor(folder) {
    this.folder = folder;
    this.total = 0;
    this.status = ''; // one letter per frame: e, p, c (complete), m (predictions)
    this.version = null;
    this.names = [];
    this.pages = new Map(); // page number -> Promise
    this.cache = new Map(); // name -> {frame, image, time}
  }

  async loadSummary() {
    const summary = await api(folderUrl(this.folder));
    this.apply(summary);
    return summary;
  }

  apply(summary) {
    if (summary.n_frames !== this.total) {
      this.names = new Array(summary.n_frames);
      this.pages.clear();
    }
    this.total = summary.n_frames;
    this.status = summary.status;
    this.version = summary.version;
    this.machineFile = summary.machine_file;
  }

  setStatus(index, letter) {
    if (index < 0 || index >= this.total) return;
    this.status = this.status.slice(0, index) + letter + this.status.slice(index + 1);
  }

  // The name of frame `index`, fetching its page of names when needed.
  async name(index) {
    if (this.names[index] !== undefined) return this.names[index];
    const page = Math.floor(index / PAGE);
    if (!this.pages.has(page)) {
      const promise = api(`${folderUrl(this.folder)}/frames?offset=${page * PAGE}&limit=${PAGE}`)
        .then((data) => {
          for (const f of data.frames) this.names[f.index] = f.name;
        })
        .catch((err) => { this.pages.delete(page); throw err; });
      this.pages.set(page, promise);
    }
    await this.pages.get(page);
    return this.names[index];
  }

  knownName(index) {
    return this.names[index];
  }

  // Frame data and decoded image of frame `index`; `fresh` refetches the data.
  async get(index, { fresh = false } = {}) {
    const name = await this.name(index);
    let entry = this.cache.get(name);
    if (!entry) {
      entry = { name, image: null };
      this.cache.set(name, entry);
    }
    if (!entry.image) {
      entry.image = loadImage(imageUrl(this.folder, name));
      entry.image.catch(() => { entry.image = null; });
    }
    if (!entry.frame || fresh) {
      entry.time = Date.now();
      entry.frame = api(frameUrl(this.folder, name));
      entry.frame.catch(() => { entry.frame = null; });
    }
    this.cache.delete(name); // keep most recent last
    this.cache.set(name, entry);
    while (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value);
    return { name, frame: entry.frame, image: entry.image };
  }

  cached(name) {
    return this.cache.get(name);
  }

  // Fetch the neighbours of `index` in the background.
  prefetch(index) {
    for (const i of [index + 1, index + 2, index + 3, index - 1]) {
      if (i >= 0 && i < this.total) {
        this.get(i).then((e) => Promise.all([e.frame, e.image])).catch(() => {});
      }
    }
  }
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.decoding = 'async';
    image.onload = () => {
      (image.decode ? image.decode() : Promise.resolve())
        .catch(() => {}).then(() => resolve(image));
    };
    image.onerror = () => reject(new Error(`The image ${url} cannot be loaded.`));
    image.src = url;
  });
}
