import vue from '@vitejs/plugin-vue'
import { loadEnv } from 'vite'
import { defineConfig } from 'vitest/config'

export default defineConfig(({ mode }) => {
  // STUDIO_BACKEND=http://127.0.0.1:8010 npm run dev  — point the dev proxy at another backend.
  const env = loadEnv(mode, new URL('.', import.meta.url).pathname, 'STUDIO_')
  const backend = env.STUDIO_BACKEND || 'http://127.0.0.1:8000'
  const proxied = ['/api', '/health', '/images', '/docs', '/openapi.json']

  return {
    plugins: [vue()],
    resolve: {
      alias: { '@': new URL('./src', import.meta.url).pathname },
    },
    define: {
      // vue-i18n: composition API only, no devtools in production (smaller bundle, no eval).
      __VUE_I18N_FULL_INSTALL__: true,
      __VUE_I18N_LEGACY_API__: false,
      __INTLIFY_PROD_DEVTOOLS__: false,
      __VUE_PROD_DEVTOOLS__: false,
      __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: false,
    },
    server: {
      proxy: Object.fromEntries(proxied.map((path) => [path, { target: backend }])),
    },
    preview: {
      proxy: Object.fromEntries(proxied.map((path) => [path, { target: backend }])),
    },
    build: {
      outDir: 'dist',
      assetsDir: 'assets',
      target: 'es2022',
      chunkSizeWarningLimit: 600,
    },
    test: {
      environment: 'happy-dom',
      include: ['tests/**/*.spec.ts'],
      setupFiles: ['tests/setup.ts'],
      css: false,
      // Element Plus's per-component style entries import .css files: let Vite (not Node) load them.
      server: { deps: { inline: [/element-plus\/es\/components\/[^/]+\/style/] } },
      // Pre-bundle Element Plus once (cached in node_modules/.vite) instead of loading its
      // hundreds of modules in every test file.
      deps: { optimizer: { web: { enabled: true, include: ['element-plus', '@element-plus/icons-vue'] } } },
    },
  }
})
