// tfjs-core 4.22 references its own nested @webgpu/types 0.1.38 (`/// <reference types="@webgpu/types/dist" />`),
// whose older GPUFeatureName would shadow the project's 0.1.74 in this program. bench/tsconfig.json lists bench/types
// as the type root, so every such directive resolves here first, to the project's version.
/// <reference path="../../../../../node_modules/@webgpu/types/dist/index.d.ts" />
