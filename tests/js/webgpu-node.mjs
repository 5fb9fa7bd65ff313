// Preload for Node (NODE_OPTIONS="--import ./tests/js/webgpu-node.mjs"): gives wgpu a WebGPU implementation, Dawn
// from the npm package `webgpu`, on the SwiftShader Vulkan driver that Debian's chromium ships. wgpu also looks for
// `Window` to decide it runs on a main thread.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
if (!globalThis.navigator) globalThis.navigator = {};
Object.defineProperty(globalThis.navigator, 'gpu', { value: create([]), configurable: true });
if (!globalThis.Window) globalThis.Window = class Window {};
globalThis.__arbiterExpectGpu = true;
