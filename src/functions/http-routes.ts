// Registers every route of the route table as an HTTP function of this app. Keys are checked in
// code (the route's access), so every function is anonymous to the Functions host.
import { app } from '@azure/functions';
import { getDefaultApp } from '../app/create-app';
import { ROUTES } from '../app/routes';
import { serveRoute } from '../app/serve-route';

for (const route of ROUTES) {
  app.http(route.name, {
    methods: [...route.methods],
    route: route.route,
    authLevel: 'anonymous',
    handler: (request, context) => serveRoute(getDefaultApp(), route, request, context),
  });
}
