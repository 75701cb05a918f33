import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Static site: relative base so `dist/` can be served from any path.
export default defineConfig({
  base: './',
  plugins: [react()],
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
});
