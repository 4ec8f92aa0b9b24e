// Command go is the grpc-go backend of the reflection interop tests: it serves
// mcpengine.interop.v1.InteropService and grpc-go's own server reflection
// (v1alpha) without any generated Go code. The descriptors come from the buf
// image given by -image (a binary google.protobuf.FileDescriptorSet); they are
// registered in protoregistry.GlobalFiles, where reflection finds them, and the
// handlers read and write dynamicpb messages.
//
// It prints "listening <port>" on stdout once it accepts connections on
// 127.0.0.1, then serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

const (
	serviceFile = "mcpengine/interop/v1/interop.proto"
	serviceName = "mcpengine.interop.v1.InteropService"
)

func main() {
	image := flag.String("image", "gen/image.binpb", "buf image (binary FileDescriptorSet) holding "+serviceFile)
	flag.Parse()
	log.SetFlags(0)

	if err := registerFiles(*image, serviceFile); err != nil {
		log.Fatalf("loading descriptors: %v", err)
	}
	desc, err := protoregistry.GlobalFiles.FindDescriptorByName(serviceName)
	if err != nil {
		log.Fatalf("finding %s: %v", serviceName, err)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("listening: %v", err)
	}
	s := grpc.NewServer()
	s.RegisterService(interopService(desc.(protoreflect.ServiceDescriptor)), nil)
	reflection.Register(s)

	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		s.Stop()
	}()

	fmt.Printf("listening %d\n", lis.Addr().(*net.TCPAddr).Port)
	if err := s.Serve(lis); err != nil {
		log.Fatalf("serving: %v", err)
	}
}

// registerFiles reads the image and registers the file called name, after its
// imports, in protoregistry.GlobalFiles. Files the binary already links (the
// well-known types, for instance) are left as they are.
func registerFiles(image, name string) error {
	b, err := os.ReadFile(image)
	if err != nil {
		return err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return err
	}
	byName := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range set.File {
		byName[f.GetName()] = f
	}

	var register func(string) error
	register = func(name string) error {
		if _, err := protoregistry.GlobalFiles.FindFileByPath(name); err == nil {
			return nil // linked in, or registered already
		}
		fdp, ok := byName[name]
		if !ok {
			return fmt.Errorf("%s is not in %s", name, image)
		}
		for _, dep := range fdp.GetDependency() {
			if err := register(dep); err != nil {
				return err
			}
		}
		fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
		if err != nil {
			return err
		}
		return protoregistry.GlobalFiles.RegisterFile(fd)
	}
	return register(name)
}

// interopService describes InteropService to grpc-go. Metadata is the proto
// file name: that is how grpc-go's reflection finds the service's file.
func interopService(sd protoreflect.ServiceDescriptor) *grpc.ServiceDesc {
	echo := sd.Methods().ByName("Echo")
	repeat := sd.Methods().ByName("Repeat")
	return &grpc.ServiceDesc{
		ServiceName: string(sd.FullName()),
		HandlerType: (*interface{})(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: string(echo.Name()),
			Handler: func(_ interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
				req := dynamicpb.NewMessage(echo.Input())
				if err := dec(req); err != nil {
					return nil, err
				}
				return handleEcho(req, echo.Output()), nil
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName:    string(repeat.Name()),
			ServerStreams: true,
			Handler: func(_ interface{}, stream grpc.ServerStream) error {
				req := dynamicpb.NewMessage(repeat.Input())
				if err := stream.RecvMsg(req); err != nil {
					return err
				}
				return handleRepeat(req, repeat.Output(), stream.SendMsg)
			},
		}},
		Metadata: sd.ParentFile().Path(),
	}
}

// handleEcho answers Echo: the request's record, unchanged.
func handleEcho(req *dynamicpb.Message, out protoreflect.MessageDescriptor) *dynamicpb.Message {
	res := dynamicpb.NewMessage(out)
	copyField(req, res, "record")
	return res
}

// handleRepeat answers Repeat: count copies of the record (count clamped to
// 1..100), each numbered by index from 1.
func handleRepeat(req *dynamicpb.Message, out protoreflect.MessageDescriptor, send func(interface{}) error) error {
	count := req.Get(req.Descriptor().Fields().ByName("count")).Int()
	if count < 1 {
		count = 1
	} else if count > 100 {
		count = 100
	}
	for i := int64(1); i <= count; i++ {
		res := dynamicpb.NewMessage(out)
		res.Set(out.Fields().ByName("index"), protoreflect.ValueOfInt32(int32(i)))
		copyField(req, res, "record")
		if err := send(res); err != nil {
			return err
		}
	}
	return nil
}

// copyField sets dst's field called name to src's, when src has it set.
func copyField(src, dst *dynamicpb.Message, name protoreflect.Name) {
	from := src.Descriptor().Fields().ByName(name)
	if src.Has(from) {
		dst.Set(dst.Descriptor().Fields().ByName(name), src.Get(from))
	}
}
