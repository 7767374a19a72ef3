package dev.saelab.atlas;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The in-process engine: the plan's units (or one shard's) on a pool of threads in this JVM,
 * skipping units an earlier run finished, each result saved as it finishes ({@link AtlasWriter}); a
 * whole run then merges the partitions. An interrupt stops the units in flight; the finished ones
 * stay saved. Writes CSV.
 */
public final class LocalAtlasEngine implements AtlasEngine {
  @Override
  public String name() {
    return "local";
  }

  @Override
  public boolean supports(String format) {
    return "csv".equals(format);
  }

  @Override
  public boolean supportsMaster() {
    return false;
  }

  @Override
  public AtlasRun.Summary run(AtlasSpec spec, AtlasRun run, AtlasProgress progress)
      throws InterruptedException {
    if (!supports(run.format())) {
      throw new IllegalArgumentException(
          "format " + run.format() + ": the in-process engine writes csv");
    }
    AtlasPlan plan = AtlasPlan.open(spec, progress::message);
    return run(plan, run, progress);
  }

  /** Runs {@code plan} (its spec already resolved) as {@code run} says. */
  public AtlasRun.Summary run(AtlasPlan plan, AtlasRun run, AtlasProgress progress)
      throws InterruptedException {
    AtlasWriter w = AtlasWriter.open(run.out(), plan.spec());
    List<WorkUnit> units = run.sharded() ? plan.shard(run.shard(), run.shards()) : plan.units();
    long total = units.size();
    AtomicLong done = new AtomicLong();
    List<WorkUnit> todo = new ArrayList<>();
    for (WorkUnit u : units) {
      if (w.isDone(u)) {
        progress.unit(u.id(), done.incrementAndGet(), total);
      } else {
        todo.add(u);
      }
    }
    long skipped = total - todo.size();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.min(run.threads(), Math.max(1, todo.size())),
            r -> {
              Thread t = new Thread(r, "saelab-atlas");
              t.setDaemon(true);
              return t;
            });
    try {
      ExecutorCompletionService<WorkUnit> ecs = new ExecutorCompletionService<>(pool);
      List<Future<WorkUnit>> futures = new ArrayList<>();
      for (WorkUnit u : todo) {
        futures.add(
            ecs.submit(
                () -> {
                  w.save(UnitRunner.run(plan.spec(), u));
                  return u;
                }));
      }
      for (int i = 0; i < futures.size(); i++) {
        Future<WorkUnit> f = ecs.take();
        try {
          WorkUnit u = f.get();
          progress.unit(u.id(), done.incrementAndGet(), total);
        } catch (ExecutionException e) {
          futures.forEach(x -> x.cancel(true));
          Throwable c = e.getCause();
          if (c instanceof RuntimeException re) {
            throw re;
          }
          if (c instanceof Error err) {
            throw err;
          }
          throw new IllegalStateException(c);
        }
      }
    } catch (InterruptedException | CancellationException e) {
      pool.shutdownNow();
      throw e;
    } finally {
      pool.shutdownNow();
      // the unit in flight finishes (or stops) before this returns: what is on disk afterwards is
      // what a rerun finds
      try {
        pool.awaitTermination(10, java.util.concurrent.TimeUnit.MINUTES);
      } catch (InterruptedException again) {
        Thread.currentThread().interrupt();
      }
      AtlasInputs.clearCache();
    }
    boolean merged = false;
    if (!run.sharded()) {
      w.merge(plan, progress::message);
      merged = true;
    }
    return new AtlasRun.Summary(total, skipped, todo.size(), merged);
  }
}
