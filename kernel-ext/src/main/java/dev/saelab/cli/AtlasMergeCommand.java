package dev.saelab.cli;

import dev.saelab.atlas.AtlasInputs;
import dev.saelab.atlas.AtlasPlan;
import dev.saelab.atlas.AtlasSpec;
import dev.saelab.atlas.AtlasWriter;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code saelab atlas-merge DIR}: merges the units of sharded {@code saelab atlas --shard i/N} runs
 * into one file per partition, exactly as a single run writes them.
 */
@Command(
    name = "atlas-merge",
    description =
        "Merge the finished units of sharded atlas runs (saelab atlas --shard i/N) into one file"
            + " per partition, as a single run writes them.",
    footer = {
      "",
      "Examples:",
      "  saelab atlas --model datasets/tiny-gemma2 --layers 1 --saes"
          + " datasets/tiny-gemma-scope/layer_{L-1}/width_*/average_l0_* --top 20 --no-summaries"
          + " --shard 0/1 --format csv --out target/atlas-one",
      "  saelab atlas-merge target/atlas-one"
    })
public final class AtlasMergeCommand extends CliCommand {
  @Parameters(paramLabel = "DIR", description = "the atlas folder")
  Path dir;

  @Override
  public Integer call() {
    AtlasSpec spec = AtlasWriter.readSpec(dir);
    AtlasPlan plan = AtlasPlan.open(spec, err::println);
    try {
      List<Path> files = AtlasWriter.open(dir, spec).merge(plan, err::println);
      out.println("wrote " + files.size() + " partitions of atlas " + dir);
    } finally {
      AtlasInputs.clearCache();
    }
    return 0;
  }
}
