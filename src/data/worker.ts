/// <reference lib="webworker" />
/** The data worker: parses uploads (and generates the built-in data) off the page's thread. See protocol.ts. */
import type { DataRequest } from './protocol';
import { handleDataRequest } from './service';

declare const self: DedicatedWorkerGlobalScope;

self.onmessage = (message: MessageEvent<DataRequest>) => {
  void handleDataRequest(message.data, (event, transfer = []) => self.postMessage(event, transfer));
};
