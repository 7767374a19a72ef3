package dev.saelab.sae;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.saelab.testutil.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A Gemma Scope npz's hook comes from its release folder's site ({@code -res}, {@code -att}, {@code
 * -mlp}), not from any other folder of its path: a checkout in a folder named {@code wt-attr} once
 * turned every residual SAE into an attention-output SAE.
 */
class GemmaScopeSiteTest {
  @TempDir Path dir;

  @ParameterizedTest
  @CsvSource({
    "wt-attr/tiny, blocks.0.hook_resid_post",
    "my-mlp-files, blocks.0.hook_resid_post",
    "gemma-scope-2b-pt-res, blocks.0.hook_resid_post",
    "gemma-scope-2b-pt-att, blocks.0.attn.hook_z",
    "gemma-scope-2b-pt-att-canonical, blocks.0.attn.hook_z",
    "models--google--gemma-scope-9b-it-mlp/snapshots/abc, blocks.0.hook_mlp_out"
  })
  void hookFromTheReleaseFolder(String parent, String hook) throws IOException {
    Path src =
        TestFiles.datasets().resolve("tiny-gemma-scope/layer_0/width_128/average_l0_12/params.npz");
    Path folder = dir.resolve(parent).resolve("layer_0/width_128/average_l0_12");
    Files.createDirectories(folder);
    Files.copy(src, folder.resolve("params.npz"));
    try (SaeDictionary sae = SaeDictionary.open(folder)) {
      assertEquals(hook, sae.config().hookName());
    }
  }
}
