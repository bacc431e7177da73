// Apply the saved (or OS) theme before first paint so there is no flash. A classic script loaded
// from index.html's <head>, not inline: the CSP allows scripts from 'self' only (nginx site).
// The key and the class are those of src/stores/preferences.ts.
;(function () {
  try {
    var t = localStorage.getItem('vis.theme')
    var dark = t ? t === 'dark' : window.matchMedia('(prefers-color-scheme: dark)').matches
    if (dark) document.documentElement.classList.add('dark')
  } catch {
    // Storage blocked (private mode, a sandboxed frame): the light theme is a fine default.
  }
})()
