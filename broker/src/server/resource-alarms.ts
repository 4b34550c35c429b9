import { statfsSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { Logger } from '../logging.js';

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
}

export const processProbe: ResourceProbe = {
  memoryBytes: () => {
    const m = process.memoryUsage();
    return m.heapTotal + m.external;
  },
  diskFreeBytes: (path) => {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  },
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

  constructor(
    watermark: number,
    private diskFreeLimit: number,
    private readonly dataDir: string,
    private readonly onChange: (state: AlarmState) => void,
    private readonly log: Logger,
    private readonly probe: ResourceProbe = processProbe,
  ) {
    this.memoryLimit = ResourceAlarms.limitOf(watermark);
  }

  /** A fraction (0-1] of total memory, or an absolute number of bytes (> 1). */
  static limitOf(watermark: number): number {
    return watermark <= 1 ? Math.floor(watermark * totalmem()) : Math.floor(watermark);
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
    this.memoryLimit = ResourceAlarms.limitOf(watermark);
    this.check();
  }

  /** Changes the free-disk limit at run time (as `rabbitmqctl set_disk_free_limit`). */
  setDiskFreeLimit(bytes: number): void {
    this.diskFreeLimit = bytes;
    this.check();
  }

  check(): void {
    const memory = this.probe.memoryBytes() > this.memoryLimit;
    let disk = this.state.disk;
    try {
      disk = this.probe.diskFreeBytes(this.dataDir) < this.diskFreeLimit;
    } catch (err) {
      this.log.warn('cannot read free disk space', { component: 'alarms', error: (err as Error).message });
    }
    if (memory === this.state.memory && disk === this.state.disk) return;
    for (const [name, raised] of [['memory', memory], ['disk', disk]] as const) {
      if (raised !== this.state[name]) {
        this.log.warn(`${name} alarm ${raised ? 'raised: blocking publishers' : 'cleared'}`, {
          component: 'alarms',
          ...(name === 'memory' ? { memoryBytes: this.probe.memoryBytes(), limitBytes: this.memoryLimit } : { limitBytes: this.diskFreeLimit }),
        });
      }
    }
    this.state.memory = memory;
    this.state.disk = disk;
    this.onChange(this.state);
  }
}
