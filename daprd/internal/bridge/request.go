package bridge

import (
	"errors"
	"fmt"

	"github.com/dapr/components-contrib/conversation"
	"github.com/tmc/langchaingo/llms"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/pyllm/pyllm/daprd/internal/conversationpb"
)

// roleDeveloper is the OpenAI "developer" role. langchaingo has no constant for
// it, but the contract carries it so that a caller naming it is not refused.
const roleDeveloper llms.ChatMessageType = "developer"

var roles = map[llms.ChatMessageType]pb.ConversationRole{
	llms.ChatMessageTypeHuman:    pb.ConversationRole_CONVERSATION_ROLE_HUMAN,
	llms.ChatMessageTypeSystem:   pb.ConversationRole_CONVERSATION_ROLE_SYSTEM,
	llms.ChatMessageTypeAI:       pb.ConversationRole_CONVERSATION_ROLE_AI,
	llms.ChatMessageTypeTool:     pb.ConversationRole_CONVERSATION_ROLE_TOOL,
	llms.ChatMessageTypeFunction: pb.ConversationRole_CONVERSATION_ROLE_FUNCTION,
	llms.ChatMessageTypeGeneric:  pb.ConversationRole_CONVERSATION_ROLE_GENERIC,
	roleDeveloper:                pb.ConversationRole_CONVERSATION_ROLE_DEVELOPER,
}

// acceptedRoles lists the roles for error messages, in the contract's order.
const acceptedRoles = `"human", "system", "ai", "tool", "function", "generic", "developer"`

// RequestToProto converts the request daprd hands a conversation component
// into the contract's request. Every field is carried; where daprd
// distinguishes nil from empty (messages, tools, tool choice, response format,
// prompt cache retention), so does the result. It fails, naming the field,
// on what the contract cannot carry (say an image part) rather than drop it.
func RequestToProto(req *conversation.Request) (*pb.ConversationConverseRequest, error) {
	if req == nil {
		return nil, errors.New("conversation request is nil")
	}
	out := &pb.ConversationConverseRequest{
		ToolChoice:  req.ToolChoice,
		Temperature: req.Temperature,
		Metadata:    req.Metadata,
		Parameters:  req.Parameters,
		ContextId:   req.ConversationContext,
	}
	if req.Message != nil {
		list, err := messagesToProto(*req.Message)
		if err != nil {
			return nil, err
		}
		out.Messages = list
	}
	if req.Tools != nil {
		list, err := toolsToProto(*req.Tools)
		if err != nil {
			return nil, err
		}
		out.Tools = list
	}
	if req.ResponseFormatAsJSONSchema != nil {
		format, err := structpb.NewStruct(req.ResponseFormatAsJSONSchema)
		if err != nil {
			return nil, fmt.Errorf("response format is not a JSON object: %w", err)
		}
		out.ResponseFormat = format
	}
	if req.PromptCacheRetention != nil {
		out.PromptCacheRetention = durationpb.New(*req.PromptCacheRetention)
	}
	for key, value := range req.Parameters {
		if value == nil {
			return nil, fmt.Errorf("parameters[%q] is nil: give it a value or leave the key out", key)
		}
	}
	return out, nil
}

func messagesToProto(messages []llms.MessageContent) (*pb.ConversationMessageList, error) {
	list := &pb.ConversationMessageList{Items: make([]*pb.ConversationMessage, 0, len(messages))}
	for i, message := range messages {
		where := fmt.Sprintf("messages[%d]", i)
		role, ok := roles[message.Role]
		if !ok {
			return nil, fmt.Errorf("%s has role %q: use one of %s", where, message.Role, acceptedRoles)
		}
		parts := make([]*pb.ConversationContentPart, 0, len(message.Parts))
		for j, part := range message.Parts {
			converted, err := partToProto(part)
			if err != nil {
				return nil, fmt.Errorf("%s.parts[%d]: %w", where, j, err)
			}
			parts = append(parts, converted)
		}
		list.Items = append(list.Items, &pb.ConversationMessage{Role: role, Parts: parts})
	}
	return list, nil
}

// partToProto converts one content part. langchaingo's parts are used as
// values, but their methods also make pointers parts, so both are accepted.
func partToProto(part llms.ContentPart) (*pb.ConversationContentPart, error) {
	switch p := part.(type) {
	case llms.TextContent:
		return textPart(p), nil
	case *llms.TextContent:
		if p != nil {
			return textPart(*p), nil
		}
	case llms.ToolCall:
		return toolCallPart(p), nil
	case *llms.ToolCall:
		if p != nil {
			return toolCallPart(*p), nil
		}
	case llms.ToolCallResponse:
		return toolCallResponsePart(p), nil
	case *llms.ToolCallResponse:
		if p != nil {
			return toolCallResponsePart(*p), nil
		}
	case nil:
		return nil, errors.New("content part is nil")
	default:
		return nil, unsupportedPart(part)
	}
	return nil, fmt.Errorf("content part is a nil %T", part)
}

func unsupportedPart(part llms.ContentPart) error {
	return fmt.Errorf("content part of type %T is not supported by pyllm's contract: "+
		"use llms.TextContent, llms.ToolCall or llms.ToolCallResponse", part)
}

func textPart(p llms.TextContent) *pb.ConversationContentPart {
	return &pb.ConversationContentPart{Kind: &pb.ConversationContentPart_Text{
		Text: &pb.ConversationTextPart{Text: p.Text},
	}}
}

func toolCallPart(p llms.ToolCall) *pb.ConversationContentPart {
	return &pb.ConversationContentPart{Kind: &pb.ConversationContentPart_ToolCall{
		ToolCall: toolCallToProto(p),
	}}
}

func toolCallToProto(call llms.ToolCall) *pb.ConversationToolCall {
	out := &pb.ConversationToolCall{Id: call.ID, Type: call.Type}
	if call.FunctionCall != nil {
		out.Function = &pb.ConversationFunctionCall{
			Name:      call.FunctionCall.Name,
			Arguments: call.FunctionCall.Arguments,
		}
	}
	return out
}

func toolCallResponsePart(p llms.ToolCallResponse) *pb.ConversationContentPart {
	return &pb.ConversationContentPart{Kind: &pb.ConversationContentPart_ToolCallResponse{
		ToolCallResponse: &pb.ConversationToolCallResponse{
			ToolCallId: p.ToolCallID,
			Name:       p.Name,
			Content:    p.Content,
		},
	}}
}

func toolsToProto(tools []llms.Tool) (*pb.ConversationToolList, error) {
	list := &pb.ConversationToolList{Items: make([]*pb.ConversationTool, 0, len(tools))}
	for i, tool := range tools {
		where := fmt.Sprintf("tools[%d]", i)
		if tool.WebSearch != nil {
			return nil, fmt.Errorf("%s is a web search tool, which pyllm's contract does not carry: "+
				"declare function tools only", where)
		}
		out := &pb.ConversationTool{Type: tool.Type}
		if fn := tool.Function; fn != nil {
			params, err := parametersToProto(fn.Parameters)
			if err != nil {
				return nil, fmt.Errorf("%s.function.parameters: %w", where, err)
			}
			out.Function = &pb.ConversationFunctionDefinition{
				Name:        fn.Name,
				Description: fn.Description,
				Parameters:  params,
				Strict:      fn.Strict,
			}
		}
		list.Items = append(list.Items, out)
	}
	return list, nil
}

// parametersToProto converts a function's JSON schema. daprd passes the map
// protobuf's Struct.AsMap makes; anything else is refused by name rather than
// guessed at.
func parametersToProto(params any) (*structpb.Struct, error) {
	switch p := params.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		if p == nil {
			return nil, nil
		}
		s, err := structpb.NewStruct(p)
		if err != nil {
			return nil, fmt.Errorf("not a JSON object: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("has Go type %T: pass a map[string]any (a JSON schema object) or nil",
			params)
	}
}
