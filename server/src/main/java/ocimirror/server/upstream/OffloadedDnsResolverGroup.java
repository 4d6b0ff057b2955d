package ocimirror.server.upstream;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.InetNameResolver;
import io.netty.resolver.InetSocketAddressResolver;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Resolves host names with the JDK (so /etc/hosts, nsswitch and the JVM's DNS cache apply as
 * for any Java program) on a small pool of its own threads: Netty's default resolver would
 * make the same blocking call on the event loop, stalling every connection on it while a
 * DNS server is slow.
 */
final class OffloadedDnsResolverGroup extends AddressResolverGroup<InetSocketAddress> {

    private final ExecutorService lookups;

    OffloadedDnsResolverGroup(String name) {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "dns-" + name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        pool.allowCoreThreadTimeOut(true);
        this.lookups = pool;
    }

    @Override
    protected AddressResolver<InetSocketAddress> newResolver(EventExecutor executor) {
        return new InetSocketAddressResolver(executor, new InetNameResolver(executor) {
            @Override
            protected void doResolve(String host, Promise<InetAddress> promise) {
                submit(promise, () -> InetAddress.getByName(host));
            }

            @Override
            protected void doResolveAll(String host, Promise<List<InetAddress>> promise) {
                submit(promise, () -> Arrays.asList(InetAddress.getAllByName(host)));
            }
        });
    }

    private interface Lookup<T> {
        T get() throws Exception;
    }

    private <T> void submit(Promise<T> promise, Lookup<T> lookup) {
        try {
            lookups.execute(() -> {
                try {
                    promise.trySuccess(lookup.get());
                } catch (Exception e) {
                    promise.tryFailure(e);
                }
            });
        } catch (RuntimeException rejected) {
            promise.tryFailure(rejected); // closed
        }
    }

    /** Queued lookups still finish (and complete their promises); new ones fail. */
    @Override
    public void close() {
        super.close();
        lookups.shutdown();
    }
}
