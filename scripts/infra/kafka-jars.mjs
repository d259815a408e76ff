// The broker's jars: resolved once per Kafka version with Maven from Maven Central into the cache
// dir (outside the clone), plus the Java check. scripts/kafka/README.md explains the pom template.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { KAFKA_ASSETS } from './options.mjs';
import { commandExists, rm, seconds, withLock } from './processes.mjs';

const LOG4J2_VERSION = '2.24.3';
const SLF4J_1_VERSION = '1.7.36';

export function kafkaMajor(version) {
  return Number(version.split('.')[0]);
}

function loggingDependencies(version, slf4j2) {
  const dep = (g, a, v) =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  if (kafkaMajor(version) < 4) {
    // Kafka 3.x ships reload4j behind slf4j 1.7.
    return dep('org.slf4j', 'slf4j-reload4j', SLF4J_1_VERSION);
  }
  const binding = slf4j2 ? 'log4j-slf4j2-impl' : 'log4j-slf4j-impl';
  return [
    dep('org.apache.logging.log4j', binding, LOG4J2_VERSION),
    dep('org.apache.logging.log4j', 'log4j-core', LOG4J2_VERSION),
  ].join('\n');
}

function runMaven(kafkaHome, version, slf4j2) {
  const template = fs.readFileSync(path.join(KAFKA_ASSETS, 'pom.xml.template'), 'utf8');
  const pom = template
    .replaceAll('@KAFKA_VERSION@', version)
    .replace('@LOGGING_DEPENDENCIES@', loggingDependencies(version, slf4j2));
  fs.writeFileSync(path.join(kafkaHome, 'pom.xml'), pom);
  rm(path.join(kafkaHome, 'libs'));
  const res = spawnSync(
    'mvn',
    [
      '-q',
      '-B',
      'dependency:copy-dependencies',
      '-DoutputDirectory=libs',
      '-DincludeScope=runtime',
    ],
    { cwd: kafkaHome, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (res.error || res.status !== 0) {
    const output = `${res.stdout ?? ''}${res.stderr ?? ''}`.split('\n').slice(-30).join('\n');
    throw new Error(
      `Maven could not resolve org.apache.kafka:kafka_2.13:${version} ` +
        `(exit ${res.status ?? res.error?.message}). Is KAFKA_VERSION a released version?\n${output}`,
    );
  }
  return fs.readdirSync(path.join(kafkaHome, 'libs'));
}

export async function ensureKafkaJars(o) {
  const stamp = path.join(o.kafkaHome, '.complete');
  if (fs.existsSync(stamp)) return { downloaded: false, ms: 0 };
  if (!commandExists('mvn')) {
    throw new Error(
      'Maven (mvn) is needed once to fetch the Kafka broker jars: apt-get install -y maven ' +
        '(or run `docker compose up -d kafka redis` and set DUALSTREAM_INFRA=docker).',
    );
  }
  return withLock(
    path.join(o.cacheDir, `kafka-${o.kafkaVersion}.lock`),
    'Kafka download',
    o.log,
    () => {
      if (fs.existsSync(stamp)) return { downloaded: false, ms: 0 };
      const started = Date.now();
      o.log(`resolving Apache Kafka ${o.kafkaVersion} jars with Maven into ${o.kafkaHome}`);
      fs.mkdirSync(o.kafkaHome, { recursive: true });
      let jars = runMaven(o.kafkaHome, o.kafkaVersion, false);
      if (kafkaMajor(o.kafkaVersion) >= 4 && jars.some((j) => /^slf4j-api-2\./.test(j))) {
        // This release moved to slf4j 2, which finds log4j through a different binding.
        jars = runMaven(o.kafkaHome, o.kafkaVersion, true);
      }
      if (!jars.some((j) => j.startsWith(`kafka_2.13-${o.kafkaVersion}`))) {
        throw new Error(`Maven finished but kafka_2.13-${o.kafkaVersion}.jar is missing`);
      }
      const ms = Date.now() - started;
      fs.writeFileSync(
        stamp,
        `${JSON.stringify({ version: o.kafkaVersion, jars: jars.length, ms, at: new Date() })}\n`,
      );
      o.log(`resolved ${jars.length} jars in ${seconds(ms)}`);
      return { downloaded: true, ms };
    },
  );
}

export function ensureJava() {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (res.error) {
    throw new Error(
      'Java 17+ is needed to run the local Kafka broker: apt-get install -y openjdk-17-jre-headless ' +
        '(or run `docker compose up -d kafka redis` and set DUALSTREAM_INFRA=docker).',
    );
  }
  const m = /version "(\d+)/.exec(res.stderr ?? '');
  if (m && Number(m[1]) < 17) {
    throw new Error(`Kafka needs Java 17 or newer; \`java -version\` reports ${m[1]}`);
  }
}
