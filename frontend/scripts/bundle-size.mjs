#!/usr/bin/env node
// Gzipped weight of what dist/index.html loads up front (entry script, modulepreloads, styles).
// Usage: node scripts/bundle-size.mjs [--max-js KB] [--max-css KB]   (exit 1 when over budget)
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname
const html = readFileSync(join(dist, 'index.html'), 'utf8')
const args = process.argv.slice(2)
const limit = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const maxJs = limit('--max-js', 200)
const maxCss = limit('--max-css', 60)

const refs = [...html.matchAll(/<(?:script|link)\b[^>]*>/g)].map((m) => m[0])
const js = new Set()
const css = new Set()
for (const tag of refs) {
  const src = /\b(?:src|href)="([^"]+)"/.exec(tag)?.[1]
  if (!src || !src.startsWith('/assets/')) continue
  if (tag.startsWith('<script') || /rel="modulepreload"/.test(tag)) js.add(src)
  else if (/rel="stylesheet"/.test(tag)) css.add(src)
}

function weigh(files) {
  let raw = 0
  let gz = 0
  const rows = []
  for (const file of files) {
    const data = readFileSync(join(dist, file.replace(/^\//, '')))
    const g = gzipSync(data, { level: 9 }).length
    raw += data.length
    gz += g
    rows.push(`  ${file}  ${(data.length / 1024).toFixed(1)} KB raw, ${(g / 1024).toFixed(1)} KB gzip`)
  }
  return { raw, gz, rows }
}

const j = weigh(js)
const c = weigh(css)
console.log('Initial JS:')
console.log(j.rows.join('\n'))
console.log(`  total ${(j.raw / 1024).toFixed(1)} KB raw, ${(j.gz / 1024).toFixed(1)} KB gzip (budget ${maxJs} KB)`)
console.log('Initial CSS:')
console.log(c.rows.join('\n'))
console.log(`  total ${(c.raw / 1024).toFixed(1)} KB raw, ${(c.gz / 1024).toFixed(1)} KB gzip (budget ${maxCss} KB)`)
if (j.gz / 1024 > maxJs || c.gz / 1024 > maxCss) {
  console.error('Over budget.')
  process.exit(1)
}
