/**
 * The dashboard's panels beyond the core ones (jobs, runs, links, audit): each is a card
 * fed by one GET endpoint of the daemon's API, in a module of its own. A panel's `render`
 * is the source of a browser-side function `(data, h) => html`, where `h` holds the page's
 * formatters (esc, brk, bytes, bits, dur, when): every time and size on the page is
 * formatted in one place. Add a panel by writing its module and listing it here.
 */
import { clusterPanel } from './cluster.js';
import { gatewayPanel } from './gateway.js';
import { bandwidthPlanPanel } from './plan.js';
import { streamLanesPanel } from './streams.js';

export interface DashboardPanel {
  /** The element id of the card's body; also names the panel in tests. */
  readonly id: string;
  readonly title: string;
  /** Spans both columns. */
  readonly wide?: boolean;
  /** The API path the panel polls each refresh. */
  readonly endpoint: string;
  /** Shown until the first response, and when the endpoint answers 404. */
  readonly empty: string;
  /** Browser-side JS: a function expression `(data, h) => html`. */
  readonly render: string;
}

export const DASHBOARD_PANELS: readonly DashboardPanel[] = [bandwidthPlanPanel, clusterPanel, streamLanesPanel, gatewayPanel];
