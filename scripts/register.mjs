// `node --import ./scripts/register.mjs script.ts`: TypeScript through tsx, plus `?raw` imports of shaders.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./raw-loader.mjs', import.meta.url);
