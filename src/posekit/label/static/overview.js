// The project overview page: folders, videos, counts, frame extraction.
import { api, el } from './api.js';

const message = document.getElementById('message');

function show(text, kind = 'info') {
  message.textContent = text;
  message.className = `message ${kind}`;
  message.hidden = !text;
}

function labelLink(folder) {
  return el('a', { href: `/label?folder=${encodeURIComponent(folder)}`, class: 'button' },
    'Label');
}

function renderFolders(project) {
  const body = document.querySelector('#folders tbody');
  body.replaceChildren();
  if (!project.folders.length) {
    body.append(el('tr', {}, el('td', { colspan: 7, class: 'muted' },
      'No labeled-data folders yet: extract frames from a video below.')));
  }
  for (const folder of project.folders) {
    if (folder.error) {
      body.append(el('tr', {}, el('td', {}, folder.name),
        el('td', { colspan: 6, class: 'error' }, folder.error)));
      continue;
    }
    const c = folder.counts;
    body.append(el('tr', { 'data-folder': folder.name },
      el('td', {}, folder.name), el('td', {}, folder.n_frames), el('td', {}, c.complete),
      el('td', {}, c.partial), el('td', {}, c.empty), el('td', {}, c.predicted),
      el('td', {}, labelLink(folder.name))));
  }
}

function renderVideos(project) {
  const folders = new Map(project.folders.map((f) => [f.name, f]));
  const body = document.querySelector('#videos tbody');
  body.replaceChildren();
  if (!project.videos.length) {
    body.append(el('tr', {}, el('td', { colspan: 5, class: 'muted' },
      'The project lists no videos (add some with `posekit add-videos`).')));
  }
  for (const video of project.videos) {
    const folder = folders.get(video.folder);
    const extracted = folder && folder.n_frames != null ? folder.n_frames : 0;
    const labeled = folder && folder.counts ? folder.counts.complete + folder.counts.partial : 0;
    const button = el('button', { type: 'button', onclick: () => extract([video.name]) },
      'Extract more');
    if (!video.exists) button.disabled = true;
    body.append(el('tr', {},
      el('td', {}, video.name),
      el('td', { class: video.exists ? '' : 'error' }, video.exists ? 'found' : 'missing'),
      el('td', {}, extracted), el('td', {}, labeled),
      el('td', {}, button, ' ', folder ? labelLink(video.folder) : '')));
  }
}

async function load() {
  const project = await api('/api/project');
  document.getElementById('project-name').textContent = project.name;
  const kind = project.multi_animal
    ? `multi-animal: ${project.individuals.length} individuals, ` : '';
  document.getElementById('project-info').textContent =
    `${kind}${project.bodyparts.length + project.unique_bodyparts.length} bodyparts · ` +
    `scorer ${project.scorer} · ${project.root}`;
  renderFolders(project);
  renderVideos(project);
}

async function extract(videos) {
  const n = document.getElementById('extract-n').value;
  const body = { algo: document.getElementById('extract-algo').value, videos };
  if (n) body.n = Number(n);
  const buttons = document.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  show('Extracting frames… (this can take a minute)');
  try {
    const result = await api('/api/extract', { method: 'POST', body });
    const parts = Object.entries(result.extracted).map(([v, k]) => `${k} from ${v}`);
    show(`Extracted ${parts.join(', ') || 'no new frames'}.`, 'ok');
  } catch (err) {
    show(err.message, 'error');
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    await load().catch((err) => show(err.message, 'error'));
  }
}

document.getElementById('extract-form').addEventListener('submit', (event) => {
  event.preventDefault();
  extract(null);
});

load().catch((err) => show(err.message, 'error'));
