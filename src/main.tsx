import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { LabStoreProvider, bindUrlHash, createAppStore } from './store';
import { App } from './ui/App';
import './ui/styles.css';

const store = createAppStore();
void store.getState().init(window.location.hash);
bindUrlHash(store, window);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <LabStoreProvider store={store}>
      <App />
    </LabStoreProvider>
  </StrictMode>,
);
