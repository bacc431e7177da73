/// <reference types="vite/client" />

import 'vue-router'

declare module 'vue-router' {
  interface RouteMeta {
    /** i18n key of the page title */
    title?: string
    /** render without the header (login) */
    bare?: boolean
  }
}
