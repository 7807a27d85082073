// Entry of the function app (package.json "main" loads this before the function files): HTTP
// streaming, so the request body reaches the handler as a stream and the snapshot size limit is
// enforced while reading (http-io.ts readBody), instead of the host buffering the whole body
// first. Needs Functions host 4.28+ (Flex Consumption runs newer).
import { app } from '@azure/functions';

app.setup({ enableHttpStream: true });
