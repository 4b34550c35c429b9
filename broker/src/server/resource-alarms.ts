import { statfsSync } from 'node:fs';
import type { Logger } from '../logging.js';
import { memoryTotal, readMemoryReadings, type MemoryTotal } from './memory-limit.js';

/** Which resource alarms are raised. */
export interface AlarmState {
  memory: boolean;
  disk: boolean;
}

/** Readings the alarms compare against their limits; injectable for tests. */
export interface ResourceProbe {
  /** Bytes the broker holds: V8 heap plus buffers (LMDB's file mapping is page cache, not counted). */
  memoryBytes(): number;
  /** Free bytes on the data directory's file system, for an unprivileged process. */
  diskFreeBytes(path: string): number;
  /** The memory a fractional watermark is a fraction of (host memory or the container's limit). */
  memoryTotal?(): MemoryTotal;
}

/**
 * LMDB writes more than the records it is given (B-tree pages copied on write, page
 * rounding of large values): the free-space check counts pending bytes this many times.
 */
const WRITE_OVERHEAD = 2;

export const processProbe: ResourceProbe = {
  memoryBytes: () => {
    const m = process.memoryUsage();
    return m.heapTotal + m.external;
  },
  diskFreeBytes: (path) => {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  },
  memoryTotal: () => memoryTotal(readMemoryReadings()),
};

/**
 * RabbitMQ's memory and disk alarms: a memory high watermark and a free-disk low watermark,
 * checked periodically. While either is raised, every connection that publishes is sent
 * `blocked` and is no longer read from (TCP backpressure does the rest); consumers keep
 * draining. When both clear, blocked connections get `unblocked` and are read again.
 */
export class ResourceAlarms {
  readonly state: AlarmState = { memory: false, disk: false };
  private timer: NodeJS.Timeout | undefined;
  private memoryLimit: number;
  /** What a fractional watermark applies to; reported in the overview and at start. */
  readonly memoryTotal: MemoryTotal;
  /** Free bytes at the last disk reading, and record bytes handed to the store since. */
  private lastFree = Number.MAX_SAFE_INTEGER;
  private writtenSinceCheck = 0;
  private checkErrorLogged = false;

  constructor(
    watermark: number,
    private diskFreeLimit: number,
    private readonly dataDir: string,
    private readonly onChange: (state: AlarmState) => void,
    private readonly log: Logger,
    private readonly probe: ResourceProbe = processProbe,
    /** Record bytes the store holds that are not on disk yet: free space does not show them. */
    private readonly unflushedBytes: () => number = () => 0,
  ) {
    this.memoryTotal = probe.memoryTotal?.() ?? memoryTotal(readMemoryReadings());
    this.memoryLimit = ResourceAlarms.limitOf(watermark, this.memoryTotal.bytes);
  }

  /** A fraction (0-1] of `total` (host memory or the container's limit), or an absolute number of bytes (> 1). */
  static limitOf(watermark: number, total: number): number {
    return watermark <= 1 ? Math.floor(watermark * total) : Math.floor(watermark);
  }

  get memoryLimitBytes(): number {
    return this.memoryLimit;
  }

  get diskFreeLimitBytes(): number {
    return this.diskFreeLimit;
  }

  get raised(): boolean {
    return this.state.memory || this.state.disk;
  }

  start(intervalMs: number): void {
    this.check();
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Changes the memory watermark at run time (as `rabbitmqctl set_vm_memory_high_watermark`). */
  setMemoryHighWatermark(watermark: number): void {
    this.memoryLimit = ResourceAlarms.limitOf(watermark, this.memoryTotal.bytes);
    this.check();
  }

  /** Changes the free-disk limit at run time (as `rabbitmqctl set_disk_free_limit`). */
  setDiskFreeLimit(bytes: number): void {
    this.diskFreeLimit = bytes;
    this.check();
  }

  /**
   * Record bytes the store was just given (this turn's batch, not yet committed): when they
   * could take free space below the limit, the disk is read now rather than at the next
   * periodic check, so a fast publisher is blocked before it fills the file system.
   */
  noteWrite(bytes: number): void {
    if (bytes <= 0) return;
    this.writtenSinceCheck += bytes;
    const ahead = Math.max(this.writtenSinceCheck, this.unflushedBytes());
    if (this.lastFree - WRITE_OVERHEAD * ahead > 2 * this.diskFreeLimit + 64 * 1024 * 1024) return;
    this.check();
  }

  /**
   * A commit failed (disk full or an I/O error): its publishes were nacked; raise the disk
   * alarm so publishers stop until a check finds enough free space again.
   */
  commitFailed(error: Error): void {
    this.log.error('message store commit failed: publishes nacked, disk alarm raised', {
      component: 'alarms',
      error: error.message,
    });
    if (this.state.disk) return;
    this.state.disk = true;
    this.onChange(this.state);
  }

  /**
   * Reads memory and free disk space and raises or clears the alarms. Free space counts
   * every write the store has not flushed yet, not only this turn's: with commits lagging
   * (a slow disk, a loaded machine) several turns are in flight at once, and the file
   * system shows none of them. Never throws: when the process is out of file descriptors
   * (EMFILE) even process.memoryUsage() fails, and a throw from this timer would end the
   * broker; the last known state is kept instead.
   */
  check(): void {
    let memory = this.state.memory;
    try {
      memory = this.probe.memoryBytes() > this.memoryLimit;
    } catch (err) {
      this.warnOnce('cannot read memory usage', err);
    }
    let disk = this.state.disk;
    try {
      const free = this.probe.diskFreeBytes(this.dataDir);
      this.lastFree = free;
      this.writtenSinceCheck = 0;
      disk = free - WRITE_OVERHEAD * this.unflushedBytes() < this.diskFreeLimit;
    } catch (err) {
      this.warnOnce('cannot read free disk space', err);
    }
    if (memory === this.state.memory && disk === this.state.disk) return;
    for (const [name, raised] of [
      ['memory', memory],
      ['disk', disk],
    ] as const) {
      if (raised !== this.state[name]) {
        this.log.warn(`${name} alarm ${raised ? 'raised: blocking publishers' : 'cleared'}`, {
          component: 'alarms',
          ...(name === 'memory'
            ? { limitBytes: this.memoryLimit }
            : { limitBytes: this.diskFreeLimit, freeBytes: this.lastFree }),
        });
      }
    }
    this.state.memory = memory;
    this.state.disk = disk;
    this.onChange(this.state);
  }

  private warnOnce(what: string, err: unknown): void {
    // Once per failure streak: at one check a second, a log line each time would flood.
    if (this.checkErrorLogged) return;
    this.checkErrorLogged = true;
    this.log.warn(what, { component: 'alarms', error: err instanceof Error ? err.message : String(err) });
    setTimeout(() => (this.checkErrorLogged = false), 60_000).unref();
  }
}
