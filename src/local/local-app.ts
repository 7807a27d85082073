// The app the local host serves (`npm start`, `npm run demo`): the one Azure runs, over Azurite, with
// storage policies that refuse what Azure Table storage refuses and Azurite takes. Without them a
// write too large for Azure (a rule's long texts, say) would succeed here and fail only once deployed.
import { createApp, type CreateAppOptions, type PostureApp } from '../app/create-app';
import { withAzureLimits } from './azure-limits';

/** createApp with Azure's limits ahead of any storage policies `options` passes; its other options are kept. */
export function createLocalApp(options: CreateAppOptions): PostureApp {
  return createApp({ ...options, storeOptions: withAzureLimits(options.storeOptions ?? {}) });
}
