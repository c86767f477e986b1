// Builds the network page into ui/dist (relative asset paths: the daemon serves it at /).
// `npm run dev` serves it with hot reload against a running daemon: KEEL_API=http://127.0.0.1:5080.
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { defineConfig } from 'vite'

const api = process.env.KEEL_API ?? 'http://127.0.0.1:5080'

export default defineConfig({
  base: './',
  plugins: [svelte()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', reportCompressedSize: false },
  server: {
    proxy: {
      // The daemon refuses POSTs from foreign origins: present the API's own.
      '/api': { target: api, changeOrigin: true, headers: { origin: api } }
    }
  }
})
