/**
 * @module
 * The request handler of the data plane: finds the route for the Host, picks an instance, and
 * relays request and response between client and instance as they stream, never buffering a
 * body. One `Exchange` object per request is both the record of its state and the undici
 * dispatch handler, and the listeners it needs are shared functions that find it through the
 * response object, so a request allocates little beyond what Node and undici allocate anyway.
 *
 * Every request ends exactly once (`Exchange.finish`), whichever comes first: the response
 * completes, the instance fails, the client goes away, or a timeout fires. That is where the
 * balancer's count for the instance is released, and the service's load meter told.
 *
 * A request that finds no instance with room (every one at the route's `maxConcurrency`, or none
 * while the route holds requests for a service scaled to zero) waits in the balancer's queue for
 * its host as the same `Exchange`, which the balancer admits with an instance as soon as one has
 * room. It waits at most the router's queue timeout (or its request timeout, if shorter), then
 * gets 503 NoCapacity; so does a request that finds the queue full. A route without instances
 * and without `hold` answers 503 NoHealthyInstance at once.
 *
 * Two timeouts, the route's own or the router's: the request timeout (arrival to last response
 * byte, the wait in the queue included) and the idle timeout (no bytes either way, counted from
 * the admission of a request that waited). One timer per exchange serves both, and the wait: each
 * chunk only records the time, and when the timer fires it either ends the exchange or is set
 * again for the next moment one could expire. When the idle timeout is not the shorter, chunks
 * record nothing at all.
 */

import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Route } from '../../core/routes.ts';
import { Upstream, type Balancer, type Lane, type Waiter, type WaiterRefusal } from './balancer.ts';
import { requestChannel, type RequestMessage, type RequestOutcome } from './diagnostics.ts';
import { clientResponseHeaders, upstreamRequestHead } from './forwarding-headers.ts';
import { hostKey } from './host.ts';
import { sendRouterError, type RouterErrorCode } from './router-errors.ts';

/** The response class the proxy's server must create (its `ServerResponse` option). */
export class ProxyResponse extends ServerResponse<IncomingMessage> {
  /** The request being relayed; null once it has ended. */
  exchange: Exchange | null = null;
}

export interface ProxyOptions {
  balancer: Balancer;
  /** The keep-alive connection pool of an instance address. */
  pools: { get(address: string): Dispatcher };
  /**
   * From arrival to the last response byte, for routes without their own; then 504, or a cut
   * connection once the response has begun.
   */
  requestTimeoutMs: number;
  /**
   * No bytes either way (request body from the client, response from the instance) for this
   * long, for routes without their own: 504 before the response head, a cut connection after.
   */
  idleTimeoutMs: number;
  /**
   * Longest a request waits for an instance with room (then 503 NoCapacity); its request timeout
   * when that is shorter.
   */
  queueTimeoutMs: number;
}

export type ProxyHandler = (req: IncomingMessage, res: ProxyResponse) => void;

export function createProxyHandler(options: ProxyOptions): ProxyHandler {
  const context: ProxyContext = { ...options };
  return (req, res) => handleRequest(context, req, res);
}

type ProxyContext = Readonly<ProxyOptions>;

/** undici's parsed response fields: lower-case names, repeated ones as arrays. */
type UpstreamHeaders = Record<string, string | string[] | undefined>;

function handleRequest(context: ProxyContext, req: IncomingMessage, res: ProxyResponse): void {
  const startedAt = performance.now();
  const method = req.method ?? 'GET';
  let target = req.url ?? '';
  let authority = '';
  if (target.charCodeAt(0) !== SLASH) {
    // RFC 9112 §3.2.2: a server must accept the absolute-form and take the host from it.
    const absolute = parseAbsoluteForm(target);
    if (absolute === undefined) {
      return refuse(res, 'BadRequest', `the router serves origin-form or absolute-form request targets, not '${target.slice(0, 100)}'`, method, '', startedAt);
    }
    authority = absolute.authority;
    target = absolute.path;
  }
  const head = upstreamRequestHead(req.rawHeaders, req.socket.remoteAddress ?? '', authority);
  if (head.hostCount !== 1) {
    // RFC 9112 §3.2: a request with no Host field, or several, gets a 400.
    return refuse(res, 'BadRequest', `a request needs exactly one Host header, got ${head.hostCount}`, method, head.host, startedAt);
  }
  const host = hostKey(head.host);
  const lane = context.balancer.lane(host);
  if (lane === undefined) {
    return refuse(res, 'UnknownHost', `no service answers on host '${host.slice(0, 255)}'`, method, host, startedAt);
  }
  const { route } = lane;
  if (route.paused === true) {
    return refuse(res, 'ServicePaused', refusalMessage('ServicePaused', route, host), method, host, startedAt, route);
  }
  lane.load.arrive(startedAt);
  // Requests already waiting go first: a newcomer waits behind them.
  const upstream = lane.head === null ? context.balancer.acquire(lane) : undefined;
  if (upstream === undefined && lane.upstreams.length === 0 && !lane.hold) {
    lane.load.depart(startedAt);
    return refuse(res, 'NoHealthyInstance', refusalMessage('NoHealthyInstance', route, host), method, host, startedAt, route);
  }
  const options: Dispatcher.DispatchOptions = { path: target, method, headers: head.headers, body: head.hasBody ? req : null };
  if (upstream !== undefined) new Exchange(context, res, route, lane, upstream, options, startedAt).dispatch();
  else new Exchange(context, res, route, lane, NO_UPSTREAM, options, startedAt).wait();
}

/** The upstream of an exchange that waits for one: never counted, never released. */
const NO_UPSTREAM = new Upstream('', '');

/** Where an exchange stands; a plain number, compared on every callback. */
const Phase = { queued: 0, waiting: 1, sent: 2, responding: 3, done: 4 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

class Exchange implements Dispatcher.DispatchHandler, Waiter {
  readonly #context: ProxyContext;
  readonly #res: ProxyResponse;
  readonly #route: Route;
  readonly #lane: Lane;
  readonly #options: Dispatcher.DispatchOptions;
  readonly #startedAt: number;
  readonly #requestTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  /** Whether the idle timeout can fire before the request timeout, so activity is recorded. */
  readonly #tracksIdle: boolean;
  /** performance.now() of the last bytes either way, while `#tracksIdle`. */
  #lastActivity: number;
  #timer: NodeJS.Timeout | undefined;
  /** NO_UPSTREAM while queued. */
  #upstream: Upstream;
  #phase: Phase;
  #controller: Dispatcher.DispatchController | null = null;
  #retries = 0;
  #drainListener = false;
  // The balancer's queue links (Waiter).
  queuedIn: Lane | null = null;
  queuePrev: Waiter | null = null;
  queueNext: Waiter | null = null;

  constructor(context: ProxyContext, res: ProxyResponse, route: Route, lane: Lane, upstream: Upstream, options: Dispatcher.DispatchOptions, startedAt: number) {
    this.#context = context;
    this.#res = res;
    this.#route = route;
    this.#lane = lane;
    this.#upstream = upstream;
    this.#options = options;
    this.#startedAt = startedAt;
    this.#requestTimeoutMs = route.requestTimeoutMs ?? context.requestTimeoutMs;
    this.#idleTimeoutMs = route.idleTimeoutMs ?? context.idleTimeoutMs;
    this.#tracksIdle = this.#idleTimeoutMs < this.#requestTimeoutMs;
    this.#lastActivity = startedAt;
    if (upstream === NO_UPSTREAM) {
      // `wait` sets the timer, once in the queue.
      this.#phase = Phase.queued;
      this.#timer = undefined;
    } else {
      this.#phase = Phase.waiting;
      this.#timer = setTimeout(onExchangeTimer, this.#tracksIdle ? this.#idleTimeoutMs : this.#requestTimeoutMs, this);
    }
    res.exchange = this;
    res.on('close', onResponseClose);
  }

  get arrivedAt(): number {
    return this.#startedAt;
  }

  dispatch(): void {
    this.#context.pools.get(this.#upstream.address).dispatch(this.#options, this);
  }

  /** Waits in the queue of its lane for an instance with room, or answers 503 NoCapacity if it is full. */
  wait(): void {
    if (!this.#context.balancer.enqueue(this.#lane, this)) {
      return this.#noCapacity(`too many requests wait for an instance of service ${this.#route.serviceName} (${this.#lane.queued}, the router's queue limit)`);
    }
    this.#timer = setTimeout(onExchangeTimer, this.#waitLimitMs(), this);
  }

  /** The balancer took it out of the queue with an instance that has room (counted for it). */
  admit(upstream: Upstream): void {
    this.#upstream = upstream;
    this.#phase = Phase.waiting;
    clearTimeout(this.#timer);
    const now = performance.now();
    // The idle timeout counts from now: nothing could move while it waited.
    this.#lastActivity = now;
    this.#arm(now);
    this.dispatch();
  }

  /** The balancer took it out of the queue without an instance: its route changed. */
  refuse(code: WaiterRefusal): void {
    sendRouterError(this.#res, code, refusalMessage(code, this.#route, this.#lane.host));
    this.#finish(OUTCOMES[code]);
  }

  // undici calls this once the connection is up, just before it writes the request.
  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.#phase === Phase.done) {
      // The request ended (client gone, timeout) while it waited for a connection.
      controller.abort(new Error('the request ended before it was sent'));
      return;
    }
    this.#controller = controller;
    this.#phase = Phase.sent;
    // undici attaches its own 'data' listener right after this, in the same tick, so none of the
    // body is read before it listens. (A retry has no body: this runs once per request body.)
    if (this.#tracksIdle && this.#options.body !== null) {
      (this.#options.body as IncomingMessage).on('data', () => {
        this.#lastActivity = performance.now();
      });
    }
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: UpstreamHeaders): void {
    if (this.#phase === Phase.done) return;
    if (this.#tracksIdle) this.#lastActivity = performance.now();
    // RFC 9110 §15.2: interim (1xx) responses are not relayed; the final one follows.
    if (statusCode < 200) return;
    try {
      this.#res.writeHead(statusCode, clientResponseHeaders(headers));
    } catch (err) {
      // Node refuses to send a field value it considers invalid: treat as a bad response.
      this.#failBeforeResponse(new Error(`instance ${this.#upstream.instanceId} of service ${this.#route.serviceName} sent a response head the router cannot relay: ${(err as Error).message}`));
      controller.abort(err as Error);
      return;
    }
    this.#phase = Phase.responding;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#phase !== Phase.responding) return;
    if (this.#tracksIdle) this.#lastActivity = performance.now();
    if (!this.#res.write(chunk)) {
      // The client reads slower than the instance writes: stop reading the instance until the
      // client's socket drains, so the router holds no more than its buffers.
      controller.pause();
      if (!this.#drainListener) {
        this.#drainListener = true;
        this.#res.on('drain', onResponseDrain);
      }
    }
  }

  onResponseEnd(): void {
    if (this.#phase !== Phase.responding) return;
    this.#res.end();
    this.#finish('completed');
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.#phase === Phase.done) return;
    if (this.#phase === Phase.responding) {
      // The head is out: the only honest signal left is an incomplete response (RFC 9112 §8).
      this.#res.destroy();
      this.#finish('upstream-error', error);
      return;
    }
    // undici starts a request only on an open connection: a waiting one never reached the instance.
    const sent = this.#phase === Phase.sent;
    if (!sent) this.#context.balancer.markUnreachable(this.#upstream);
    if (this.#retry(sent)) return;
    this.#failBeforeResponse(error, sent
      ? `instance ${this.#upstream.instanceId} of service ${this.#route.serviceName} closed the connection before responding (${errorCode(error)})`
      : `could not connect to an instance of service ${this.#route.serviceName} (${errorCode(error)})`);
  }

  /** The client's connection closed before the response was complete. */
  clientClosed(): void {
    if (this.#phase === Phase.done) return;
    const error = new Error('the client closed the connection before the response was complete');
    this.#finish('client-aborted', error);
    this.#controller?.abort(error);
  }

  /** The exchange's one timer fired: a timeout expired, or it is set again for the next that could. */
  timerFired(): void {
    if (this.#phase === Phase.done) return;
    const now = performance.now();
    // Node's timers count from the event loop's cached clock, so one may fire a little before
    // performance.now() says it is due: it is then set again for what is left.
    if (this.#phase === Phase.queued) {
      const waitLimitMs = this.#waitLimitMs();
      const waitEnd = this.#startedAt + waitLimitMs;
      if (now >= waitEnd) {
        return this.#noCapacity(`no instance of service ${this.#route.serviceName} could take the request within ${duration(waitLimitMs)}`);
      }
      this.#timer = setTimeout(onExchangeTimer, Math.ceil(waitEnd - now), this);
      return;
    }
    if (now >= this.#startedAt + this.#requestTimeoutMs) {
      return this.#timeOut(`service ${this.#route.serviceName} did not respond within ${duration(this.#requestTimeoutMs)}`);
    }
    if (this.#tracksIdle && now >= this.#lastActivity + this.#idleTimeoutMs) {
      return this.#timeOut(`service ${this.#route.serviceName} sent nothing for ${duration(this.#idleTimeoutMs)} (its idle timeout)`);
    }
    this.#arm(now);
  }

  /** Sets the timer for the first moment a timeout could expire, none having expired at `now`. */
  #arm(now: number): void {
    let next = this.#startedAt + this.#requestTimeoutMs;
    if (this.#tracksIdle) {
      const idleAt = this.#lastActivity + this.#idleTimeoutMs;
      if (idleAt < next) next = idleAt;
    }
    this.#timer = setTimeout(onExchangeTimer, Math.ceil(next - now), this);
  }

  /** How long it may wait in the queue: the router's queue timeout, or its request timeout if shorter. */
  #waitLimitMs(): number {
    return Math.min(this.#context.queueTimeoutMs, this.#requestTimeoutMs);
  }

  #noCapacity(message: string): void {
    this.#lane.load.rejected++;
    sendRouterError(this.#res, 'NoCapacity', message);
    this.#finish('no-capacity');
  }

  #timeOut(message: string): void {
    const error = new Error(message);
    if (this.#phase === Phase.responding) this.#res.destroy();
    else sendRouterError(this.#res, 'RequestTimeout', message);
    this.#finish('timeout', error);
    this.#controller?.abort(error);
  }

  resumeUpstream(): void {
    this.#controller?.resume();
  }

  /**
   * Sends the request again after its connection failed before any response: allowed for
   * methods whose repetition is harmless (RFC 9110 §9.2.2) and without content (which could not
   * be replayed without buffering it), at most twice. The retry goes to another instance when
   * there is one: the instance may have just died (killed, crashed) with the request on it. A
   * connection that broke after the request went out (typically a keep-alive connection the
   * instance closed as it was reused, RFC 9112 §9.3.1) may go back to the same instance when it
   * is the only one.
   */
  #retry(sent: boolean): boolean {
    if (this.#retries >= MAX_RETRIES || this.#options.body !== null || !isIdempotent(this.#options.method)) return false;
    // Only to an instance with room, or the same one (whose count it already holds): a retry
    // never takes an instance over its cap, nor waits.
    const next = this.#context.balancer.retry(this.#lane, this.#upstream, sent);
    if (next === undefined) return false;
    this.#retries++;
    this.#upstream = next;
    this.#phase = Phase.waiting;
    this.#controller = null;
    this.dispatch();
    return true;
  }

  #failBeforeResponse(error: Error, message = error.message): void {
    sendRouterError(this.#res, 'InstanceUnreachable', message);
    this.#finish('upstream-error', error);
  }

  #finish(outcome: RequestOutcome, error?: Error): void {
    this.#phase = Phase.done;
    clearTimeout(this.#timer);
    const balancer = this.#context.balancer;
    // Out of the queue (client gone, wait over) or off its instance, whichever it was on.
    if (this.queuedIn !== null) balancer.leave(this);
    if (this.#upstream !== NO_UPSTREAM) balancer.release(this.#upstream);
    const now = performance.now();
    this.#lane.load.depart(now);
    this.#res.exchange = null;
    if (requestChannel.hasSubscribers) {
      requestChannel.publish({
        host: this.#lane.host,
        method: this.#options.method,
        serviceName: this.#route.serviceName,
        instanceId: this.#upstream.instanceId,
        statusCode: this.#res.headersSent ? this.#res.statusCode : 0,
        outcome,
        durationMs: now - this.#startedAt,
        error,
      } satisfies RequestMessage);
    }
  }
}

// Shared listeners: `this` is the response, which leads to its exchange.
function onResponseClose(this: ProxyResponse): void {
  if (!this.writableFinished) this.exchange?.clientClosed();
}

function onResponseDrain(this: ProxyResponse): void {
  this.exchange?.resumeUpstream();
}

function onExchangeTimer(exchange: Exchange): void {
  exchange.timerFired();
}

/** Answers with a router error before any instance was involved. */
function refuse(res: ServerResponse, code: RouterErrorCode, message: string, method: string, host: string, startedAt: number, route?: Route): void {
  sendRouterError(res, code, message);
  if (requestChannel.hasSubscribers) {
    requestChannel.publish({
      host,
      method,
      serviceName: route?.serviceName ?? '',
      instanceId: '',
      statusCode: res.statusCode,
      outcome: OUTCOMES[code],
      durationMs: performance.now() - startedAt,
    } satisfies RequestMessage);
  }
}

const OUTCOMES: Record<RouterErrorCode, RequestOutcome> = {
  BadRequest: 'bad-request',
  UnknownHost: 'unknown-host',
  NoHealthyInstance: 'no-instance',
  NoCapacity: 'no-capacity',
  ServicePaused: 'service-paused',
  InstanceUnreachable: 'upstream-error',
  RequestTimeout: 'timeout',
};

/** What a request refused for its route's state is told, at arrival or while it waited. */
function refusalMessage(code: WaiterRefusal, route: Route, host: string): string {
  switch (code) {
    case 'UnknownHost':
      return `no service answers on host '${host.slice(0, 255)}'`;
    case 'ServicePaused':
      return `service ${route.serviceName} is paused; ResumeService starts it again`;
    case 'NoHealthyInstance':
      return `no healthy instance for service ${route.serviceName}`;
  }
}

const SLASH = 0x2f;
/** Retries of a request whose connection failed before a response. */
const MAX_RETRIES = 2;

function parseAbsoluteForm(target: string): { authority: string; path: string } | undefined {
  if (!target.startsWith('http://') && !target.startsWith('https://')) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  return { authority: url.host, path: `${url.pathname}${url.search}` };
}

/** `300 ms`, `2 s`, `1.5 s`: what the timeouts say in their messages. */
function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`;
}

/** RFC 9110 §9.2.2. */
function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
    case 'PUT':
    case 'DELETE':
      return true;
    default:
      return false;
  }
}

/** A short name for what went wrong on the connection: the errno or undici code. */
function errorCode(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.message;
}
