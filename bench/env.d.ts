// The root tsconfig's "types", listed here because bench/tsconfig.json sets its own typeRoots (see types/).
/// <reference types="@webgpu/types/dist" />
/// <reference types="vite/client" />
/// <reference types="node" />
