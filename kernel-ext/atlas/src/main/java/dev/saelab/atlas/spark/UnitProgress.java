package dev.saelab.atlas.spark;

import java.io.PrintStream;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.Success$;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Prints one line per finished work unit to stderr: {@code atlas: unit 5/24 done (L0 H0-3 qk rows
 * 0-63) in 0.31 s on executor 1}. A unit is a task of the stage that reads the wave's units RDD; a
 * unit rerun after a lost executor or a failed attempt is printed as a rerun and counted once.
 */
final class UnitProgress extends SparkListener {
  private final PrintStream err;
  private final int total;
  private final Map<String, List<String>> waves = new ConcurrentHashMap<>();
  private final Map<Integer, String> unitStages = new ConcurrentHashMap<>();
  private final Set<String> finished = new HashSet<>();
  private int done;

  UnitProgress(PrintStream err, int total) {
    this.err = err;
    this.total = total;
  }

  /** The next wave: the units RDD's name and its units' descriptions, by partition. */
  void expect(String rddName, List<String> names) {
    waves.put(rddName, List.copyOf(names));
  }

  /** Units finished so far. */
  synchronized int done() {
    return done;
  }

  @Override
  public void onStageSubmitted(SparkListenerStageSubmitted submitted) {
    StageInfo info = submitted.stageInfo();
    for (var rdd : CollectionConverters.asJava(info.rddInfos())) {
      if (rdd.name() != null && waves.containsKey(rdd.name())) {
        unitStages.put(info.stageId(), rdd.name());
      }
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd end) {
    String rdd = unitStages.get(end.stageId());
    if (rdd == null) {
      return;
    }
    List<String> names = waves.get(rdd);
    int unit = end.taskInfo().partitionId();
    boolean ok = end.reason() == Success$.MODULE$;
    String line;
    synchronized (this) {
      String name = unit >= 0 && unit < names.size() ? names.get(unit) : "unit " + unit;
      if (!ok) {
        line =
            String.format(
                Locale.ROOT,
                "atlas: unit %s failed on executor %s (%s); Spark retries it",
                name,
                end.taskInfo().executorId(),
                end.reason().getClass().getSimpleName().replace("$", ""));
      } else if (finished.add(rdd + ":" + unit)) {
        done++;
        line =
            String.format(
                Locale.ROOT,
                "atlas: unit %d/%d done (%s) in %.2f s on executor %s",
                done,
                total,
                name,
                end.taskInfo().duration() / 1000.0,
                end.taskInfo().executorId());
      } else {
        line =
            String.format(
                Locale.ROOT,
                "atlas: unit %s rerun on executor %s (its first result was lost with its executor)",
                name,
                end.taskInfo().executorId());
      }
    }
    if (err != null) {
      err.println(line);
    }
  }
}
