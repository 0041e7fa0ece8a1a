/**
 * @module
 * The subset of the Docker Engine API (v1.41) shapes that Berth reads or sends. Field names are
 * the engine's own; only the fields Berth uses are declared, so a new engine adding fields
 * changes nothing here. Reference: https://docs.docker.com/engine/api/v1.41/
 */

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os: string;
  Arch: string;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Size: number;
  Config?: { Labels?: Record<string, string> | null } | null;
}

/** One line of a pull, push or build progress stream. */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progress?: string;
  /** Build output text. */
  stream?: string;
  /** Structured results: the built image's `ID`, or the pushed `Tag`/`Digest`/`Size`. */
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
  /** Present when the operation failed, even though the HTTP status was 200. */
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount?: number;
}

export interface HostConfig {
  NetworkMode?: string;
  NanoCpus?: number;
  Memory?: number;
  MemorySwap?: number;
  RestartPolicy?: RestartPolicy;
  Init?: boolean | null;
  PortBindings?: Record<string, unknown> | null;
}

export interface ContainerCreateBody {
  Image: string;
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  Labels?: Record<string, string>;
  Tty?: boolean;
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig: Record<string, { Aliases?: string[] }> };
}

export interface EndpointSettings {
  NetworkID: string;
  IPAddress: string;
}

/** An entry of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  /** Unix seconds. */
  Created: number;
  State: 'created' | 'restarting' | 'running' | 'removing' | 'paused' | 'exited' | 'dead';
  Status: string;
  Labels: Record<string, string>;
  NetworkSettings?: { Networks?: Record<string, EndpointSettings> };
  /** Bytes in the container's writable layer; only when listed with `size`. */
  SizeRw?: number;
}

/** `GET /containers/{id}/json`. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  /** RFC 3339 with nanoseconds. */
  Created: string;
  /** The id (`sha256:…`) of the image it runs, whatever reference it was created from. */
  Image: string;
  State: {
    Status: ContainerSummary['State'];
    Running: boolean;
    ExitCode: number;
    Error: string;
    /** The kernel's OOM killer killed a process of the container (over its memory limit). */
    OOMKilled: boolean;
  };
  Config: { Image: string; Env: string[] | null; Labels: Record<string, string> | null; Tty: boolean };
  HostConfig: HostConfig;
  NetworkSettings: { Networks: Record<string, EndpointSettings> };
}

export interface NetworkCreateBody {
  Name: string;
  Driver?: string;
  Labels?: Record<string, string>;
  /** Makes a second create with the same name fail (409) instead of making a twin. */
  CheckDuplicate?: boolean;
}

export interface NetworkInspect {
  Id: string;
  Name: string;
  Driver: string;
  Labels: Record<string, string> | null;
}
