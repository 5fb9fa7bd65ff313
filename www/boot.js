// A classic script that runs before the page's module: if the module cannot start (a missing or stale pkg/wasm build,
// a failed fetch), the status line says why instead of "Loading…" forever.
function startFailed(message) {
  if (document.body?.dataset.ready === 'true') return;
  const status = document.getElementById('status');
  const box = document.getElementById('error');
  if (status) status.textContent = 'The arena could not start.';
  if (box) {
    box.hidden = false;
    box.textContent = String(message);
  }
}
addEventListener('error', (e) => startFailed(e.error?.message ?? e.message));
addEventListener('unhandledrejection', (e) => startFailed(e.reason?.message ?? e.reason));
