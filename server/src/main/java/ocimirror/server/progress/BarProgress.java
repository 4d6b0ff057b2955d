package ocimirror.server.progress;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A terminal progress bar (me.tongfei:progressbar) in MiB, with rate and ETA, on stderr. */
final class BarProgress implements Progress {
    private static final int MIB = 1024 * 1024;

    private final ProgressBar bar;

    BarProgress(String task) {
        this.bar = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(-1) // indefinite until the total is known
                .setUnit(" MiB", MIB)
                .showSpeed()
                .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setConsumer(new ConsoleProgressBarConsumer(System.err))
                .build();
    }

    @Override
    public void total(long bytes) {
        bar.maxHint(bytes);
    }

    @Override
    public void advance(long bytes) {
        bar.stepBy(bytes);
    }

    @Override
    public void close() {
        bar.close();
    }
}
