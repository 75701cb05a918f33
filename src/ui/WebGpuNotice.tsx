import { ENABLE_WEBGPU_HELP, useLab } from '../store';

/** Said plainly at the top when there is no WebGPU: what is missing, how to enable it, and what still works. */
export function WebGpuNotice() {
  const webgpu = useLab((s) => s.webgpu);
  if (webgpu.state !== 'unavailable') return null;
  return (
    <div className="message error banner" role="alert" data-testid="no-webgpu">
      <strong>This browser cannot train here: WebGPU is not available.</strong> {webgpu.message}
      <p>{ENABLE_WEBGPU_HELP}</p>
      <p>Everything else works without it: load data, read prompts, explore the masks and the guided walk, and look at saved runs.</p>
    </div>
  );
}
