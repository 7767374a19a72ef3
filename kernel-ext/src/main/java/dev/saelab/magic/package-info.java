/**
 * The line magics, kernel-neutral ({@link dev.saelab.magic.SaeLabMagics}): a magic is the command
 * without {@code saelab}, made from the same schema, returning the object the Java API returns; the
 * notebook-only {@code %model}, {@code %sae}, {@code %labels}, {@code %plot}, {@code %saelab} and
 * the session they load into.
 */
package dev.saelab.magic;
